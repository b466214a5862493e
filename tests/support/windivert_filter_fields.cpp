// The fields of WinDivert 2.2's filter language, layer by layer, read
// from a packet or a socket event; the values the language writes
// (windivert_filter_fields.hpp).

#include "tests/support/windivert_filter_fields.hpp"

#include <cctype>
#include <cstring>
#include <tuple>

namespace drover::test::windivert_filter::detail {

uint8_t bit(layer l) {
  return static_cast<uint8_t>(1u << static_cast<unsigned>(l));
}

namespace {

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

} // namespace

decoded decode(std::string_view packet) {
  decoded d;
  auto* p = reinterpret_cast<const uint8_t*>(packet.data());
  size_t n = packet.size();
  d.ip = p;
  d.ip_len = n;
  if (n >= 20 && (p[0] >> 4) == 4) {
    size_t hl = size_t{p[0] & 15u} * 4;
    if (hl < 20 || hl > n)
      return d;
    d.ipv4 = true;
    d.protocol = p[9];
    d.l4_off = hl;
    if ((be16(p + 6) & 0x1fff) != 0)
      return d; // a later fragment: no transport header (the driver's rule)
  } else if (n >= 40 && (p[0] >> 4) == 6) {
    d.ipv6 = true;
    d.protocol = p[6];
    d.l4_off = 40;
    // The driver steps over AH, hop-by-hop, destination options, routing,
    // mobility and one fragment header (sys/windivert.c); a later
    // fragment has no transport header.
    bool fragment = false;
    for (;;) {
      uint8_t next = d.protocol;
      size_t len = 0;
      if (next == 44 && !fragment && d.l4_off + 8 <= n) {
        fragment = true;
        if ((be16(p + d.l4_off + 2) & 0xfff8) != 0)
          return d;
        len = 8;
      } else if ((next == 51 || next == 0 || next == 60 || next == 43
                  || next == 135)
                 && d.l4_off + 2 <= n) {
        len = next == 51 ? (size_t{p[d.l4_off + 1]} + 2) * 4
                         : (size_t{p[d.l4_off + 1]} + 1) * 8;
      }
      if (len == 0 || d.l4_off + len > n)
        break;
      d.protocol = p[d.l4_off];
      d.l4_off += len;
    }
  } else {
    return d;
  }
  d.l4 = p + d.l4_off;
  d.l4_len = n - d.l4_off;
  if (d.protocol == 6 && d.l4_len >= 20) {
    size_t th = size_t{static_cast<uint8_t>(d.l4[12] >> 4)} * 4;
    if (th >= 20 && th <= d.l4_len) {
      d.tcp = true;
      d.payload = d.l4 + th;
      d.payload_len = d.l4_len - th;
    }
  } else if (d.protocol == 17 && d.l4_len >= 8) {
    d.udp = true;
    d.payload = d.l4 + 8;
    d.payload_len = d.l4_len - 8;
  } else if (d.protocol == 1 && d.ipv4 && d.l4_len >= 8) {
    d.icmp = true;
  } else if (d.protocol == 58 && d.ipv6 && d.l4_len >= 8) {
    d.icmpv6 = true;
  }
  return d;
}

namespace {

value be(const uint8_t* p, size_t bytes) {
  value v = 0;
  for (size_t i = 0; i < bytes; ++i)
    v = v << 8 | p[i];
  return v;
}

value mapped_v4(const uint8_t* p) {
  return value{0xffff} << 32 | be(p, 4);
}

std::optional<value> yes(bool b) {
  return value{b ? 1u : 0u};
}

// A header field of `bytes` bytes at `off`, present when `has` is.
packet_reader header(bool decoded::*has, const uint8_t* decoded::*base,
                     size_t off, size_t bytes, unsigned shift = 0,
                     value mask = ~value{0}) {
  return [=](const decoded& d, const packet_context&,
             int64_t) -> std::optional<value> {
    if (!(d.*has))
      return std::nullopt;
    return (be(d.*base + off, bytes) >> shift) & mask;
  };
}

// An indexed byte/16/32-bit word of `region` (negative: from its end).
packet_reader indexed(size_t width, bool payload, bool decoded::*has) {
  return [=](const decoded& d, const packet_context& c,
             int64_t i) -> std::optional<value> {
    const uint8_t* base;
    size_t len;
    if (payload) {
      if (!(d.*has))
        return std::nullopt;
      base = d.payload;
      len = d.payload_len;
    } else {
      base = reinterpret_cast<const uint8_t*>(c.packet.data());
      len = c.packet.size();
    }
    int64_t at = i < 0 ? static_cast<int64_t>(len) + i : i;
    if (at < 0 || static_cast<size_t>(at) + width > len)
      return std::nullopt;
    return be(base + at, width);
  };
}

std::optional<value> endpoint(const decoded& d, const packet_context& c,
                              bool local, bool port) {
  bool src = c.outbound == local;
  if (port) {
    if (!d.tcp && !d.udp)
      return std::nullopt;
    return be(d.l4 + (src ? 0 : 2), 2);
  }
  if (d.ipv4)
    return mapped_v4(d.ip + (src ? 12 : 16));
  if (d.ipv6)
    return be(d.ip + (src ? 8 : 24), 16);
  return std::nullopt;
}

} // namespace

const std::vector<field_spec>& fields() {
  using D = decoded;
  static const std::vector<field_spec> f = [] {
    std::vector<field_spec> v;
    auto flag = [&](const char* name, uint8_t layers, bool packet_context::*pm,
                    bool socket_context::*sm) {
      v.push_back({name, layers, false,
                   [pm](const D&, const packet_context& c, int64_t) {
                     return pm ? yes(c.*pm) : std::nullopt;
                   },
                   [sm](const socket_context& s) {
                     return sm ? yes(s.*sm) : std::nullopt;
                   }});
    };
    flag("outbound", net | flw, &packet_context::outbound,
         &socket_context::outbound);
    v.push_back({"inbound", net | flw, false,
                 [](const D&, const packet_context& c, int64_t) {
                   return yes(!c.outbound);
                 },
                 [](const socket_context& s) {
                   return yes(!s.outbound);
                 }});
    flag("loopback", net | flw | sck, &packet_context::loopback,
         &socket_context::loopback);
    flag("impostor", packets, &packet_context::impostor, nullptr);
    v.push_back({"ifIdx", packets, false,
                 [](const D&, const packet_context& c, int64_t) {
                   return std::optional<value>{c.if_idx};
                 },
                 nullptr});
    v.push_back({"subIfIdx", packets, false,
                 [](const D&, const packet_context& c, int64_t) {
                   return std::optional<value>{c.sub_if_idx};
                 },
                 nullptr});
    v.push_back(
        {"event", flw | sck | rfl, false, nullptr, [](const socket_context& s) {
           return std::optional<value>{s.event};
         }});
    v.push_back({"processId", flw | sck | rfl, false, nullptr,
                 [](const socket_context& s) {
                   return std::optional<value>{s.process_id};
                 }});
    v.push_back(
        {"endpointId", flw | sck, false, nullptr, [](const socket_context& s) {
           return std::optional<value>{s.endpoint_id};
         }});
    v.push_back({"parentEndpointId", flw | sck, false, nullptr,
                 [](const socket_context& s) {
                   return std::optional<value>{s.parent_endpoint_id};
                 }});
    v.push_back({"length", packets, false,
                 [](const D& d, const packet_context&, int64_t) {
                   return std::optional<value>{d.ip_len};
                 },
                 nullptr});
    // Protocol tests, in every layer but REFLECT.
    auto proto
        = [&](const char* name, bool D::*has, bool is_v6, uint8_t number) {
            v.push_back({name, packets | flw | sck, false,
                         [has](const D& d, const packet_context&, int64_t) {
                           return yes(d.*has);
                         },
                         [is_v6, number](const socket_context& s) {
                           return yes(number == 0 ? s.ipv6 == is_v6
                                                  : s.protocol == number);
                         }});
          };
    proto("ip", &D::ipv4, false, 0);
    proto("ipv6", &D::ipv6, true, 0);
    proto("tcp", &D::tcp, false, 6);
    proto("udp", &D::udp, false, 17);
    proto("icmp", &D::icmp, false, 1);
    proto("icmpv6", &D::icmpv6, false, 58);
    v.push_back({"protocol", packets | flw | sck, false,
                 [](const D& d, const packet_context&, int64_t) {
                   return d.ipv4 || d.ipv6 ? std::optional<value>{d.protocol}
                                           : std::nullopt;
                 },
                 [](const socket_context& s) {
                   return std::optional<value>{s.protocol};
                 }});
    for (auto [name, local, port] : {std::tuple{"localAddr", true, false},
                                     std::tuple{"remoteAddr", false, false},
                                     std::tuple{"localPort", true, true},
                                     std::tuple{"remotePort", false, true}})
      v.push_back({name, packets | flw | sck, false,
                   [local = local,
                    port = port](const D& d, const packet_context& c, int64_t) {
                     return endpoint(d, c, local, port);
                   },
                   [local = local, port = port](const socket_context& s) {
                     if (port)
                       return std::optional<value>{local ? s.local_port
                                                         : s.remote_port};
                     return std::optional<value>{
                         be((local ? s.local_addr : s.remote_addr).data(), 16)};
                   }});
    auto hdr = [&](const char* name, packet_reader r) {
      v.push_back({name, packets, false, std::move(r), nullptr});
    };
    const uint8_t* D::*ip = &D::ip;
    const uint8_t* D::*l4 = &D::l4;
    hdr("ip.HdrLength", header(&D::ipv4, ip, 0, 1, 0, 15));
    hdr("ip.TOS", header(&D::ipv4, ip, 1, 1));
    hdr("ip.Length", header(&D::ipv4, ip, 2, 2));
    hdr("ip.Id", header(&D::ipv4, ip, 4, 2));
    hdr("ip.DF", header(&D::ipv4, ip, 6, 1, 6, 1));
    hdr("ip.MF", header(&D::ipv4, ip, 6, 1, 5, 1));
    hdr("ip.FragOff", header(&D::ipv4, ip, 6, 2, 0, 0x1fff));
    hdr("ip.TTL", header(&D::ipv4, ip, 8, 1));
    hdr("ip.Protocol", header(&D::ipv4, ip, 9, 1));
    hdr("ip.Checksum", header(&D::ipv4, ip, 10, 2));
    hdr("ip.SrcAddr",
        [](const D& d, const packet_context&, int64_t) -> std::optional<value> {
          if (!d.ipv4)
            return std::nullopt;
          return mapped_v4(d.ip + 12);
        });
    hdr("ip.DstAddr",
        [](const D& d, const packet_context&, int64_t) -> std::optional<value> {
          if (!d.ipv4)
            return std::nullopt;
          return mapped_v4(d.ip + 16);
        });
    hdr("ipv6.TrafficClass", header(&D::ipv6, ip, 0, 2, 4, 0xff));
    hdr("ipv6.FlowLabel", header(&D::ipv6, ip, 1, 3, 0, 0xfffff));
    hdr("ipv6.Length", header(&D::ipv6, ip, 4, 2));
    hdr("ipv6.NextHdr", header(&D::ipv6, ip, 6, 1));
    hdr("ipv6.HopLimit", header(&D::ipv6, ip, 7, 1));
    hdr("ipv6.SrcAddr", header(&D::ipv6, ip, 8, 16));
    hdr("ipv6.DstAddr", header(&D::ipv6, ip, 24, 16));
    hdr("icmp.Type", header(&D::icmp, l4, 0, 1));
    hdr("icmp.Code", header(&D::icmp, l4, 1, 1));
    hdr("icmp.Checksum", header(&D::icmp, l4, 2, 2));
    hdr("icmp.Body", header(&D::icmp, l4, 4, 4));
    hdr("icmpv6.Type", header(&D::icmpv6, l4, 0, 1));
    hdr("icmpv6.Code", header(&D::icmpv6, l4, 1, 1));
    hdr("icmpv6.Checksum", header(&D::icmpv6, l4, 2, 2));
    hdr("icmpv6.Body", header(&D::icmpv6, l4, 4, 4));
    hdr("tcp.SrcPort", header(&D::tcp, l4, 0, 2));
    hdr("tcp.DstPort", header(&D::tcp, l4, 2, 2));
    hdr("tcp.SeqNum", header(&D::tcp, l4, 4, 4));
    hdr("tcp.AckNum", header(&D::tcp, l4, 8, 4));
    hdr("tcp.HdrLength", header(&D::tcp, l4, 12, 1, 4, 15));
    hdr("tcp.Urg", header(&D::tcp, l4, 13, 1, 5, 1));
    hdr("tcp.Ack", header(&D::tcp, l4, 13, 1, 4, 1));
    hdr("tcp.Psh", header(&D::tcp, l4, 13, 1, 3, 1));
    hdr("tcp.Rst", header(&D::tcp, l4, 13, 1, 2, 1));
    hdr("tcp.Syn", header(&D::tcp, l4, 13, 1, 1, 1));
    hdr("tcp.Fin", header(&D::tcp, l4, 13, 1, 0, 1));
    hdr("tcp.Window", header(&D::tcp, l4, 14, 2));
    hdr("tcp.Checksum", header(&D::tcp, l4, 16, 2));
    hdr("tcp.UrgPtr", header(&D::tcp, l4, 18, 2));
    hdr("tcp.PayloadLength", [](const D& d, const packet_context&, int64_t) {
      return d.tcp ? std::optional<value>{d.payload_len} : std::nullopt;
    });
    hdr("udp.SrcPort", header(&D::udp, l4, 0, 2));
    hdr("udp.DstPort", header(&D::udp, l4, 2, 2));
    hdr("udp.Length", header(&D::udp, l4, 4, 2));
    hdr("udp.Checksum", header(&D::udp, l4, 6, 2));
    hdr("udp.PayloadLength", [](const D& d, const packet_context&, int64_t) {
      return d.udp ? std::optional<value>{d.payload_len} : std::nullopt;
    });
    auto idx = [&](const char* name, size_t width, bool payload, bool D::*has) {
      v.push_back({name, packets, true, indexed(width, payload, has), nullptr});
    };
    idx("packet", 1, false, nullptr);
    idx("packet16", 2, false, nullptr);
    idx("packet32", 4, false, nullptr);
    idx("tcp.Payload", 1, true, &D::tcp);
    idx("tcp.Payload16", 2, true, &D::tcp);
    idx("tcp.Payload32", 4, true, &D::tcp);
    idx("udp.Payload", 1, true, &D::udp);
    idx("udp.Payload16", 2, true, &D::udp);
    idx("udp.Payload32", 4, true, &D::udp);
    v.push_back({"timestamp", all, false,
                 [](const D&, const packet_context&, int64_t) {
                   return std::optional<value>{0};
                 },
                 [](const socket_context&) {
                   return std::optional<value>{0};
                 }});
    return v;
  }();
  return f;
}

// The symbolic values (the reference's constants).
std::optional<value> symbol(std::string_view s) {
  static const std::pair<const char*, unsigned> table[] = {
      {"TRUE", 1},
      {"FALSE", 0},
      {"TCP", 6},
      {"UDP", 17},
      {"ICMP", 1},
      {"ICMPV6", 58},
      {"PACKET", 0},
      {"ESTABLISHED", 1},
      {"DELETED", 2},
      {"BIND", 3},
      {"CONNECT", 4},
      {"LISTEN", 5},
      {"ACCEPT", 6},
      {"CLOSE", 7},
      {"OPEN", 8},
      {"NETWORK", 0},
      {"NETWORK_FORWARD", 1},
      {"FLOW", 2},
      {"SOCKET", 3},
      {"REFLECT", 4},
  };
  for (auto& [name, v] : table)
    if (s == name)
      return value{v};
  return std::nullopt;
}

std::optional<value> number(std::string_view s) {
  value v = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    for (char c : s.substr(2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)))
        return std::nullopt;
      v = v << 4
          | static_cast<value>(std::isdigit(static_cast<unsigned char>(c))
                                   ? c - '0'
                                   : (c | 0x20) - 'a' + 10);
    }
    return s.size() <= 34 ? std::optional<value>{v} : std::nullopt;
  }
  if (s.empty())
    return std::nullopt;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
    v = v * 10 + static_cast<value>(c - '0');
  }
  return v;
}

std::optional<value> ipv4(std::string_view s) {
  value v = 0;
  int parts = 0;
  while (!s.empty()) {
    size_t dot = s.find('.');
    auto part = s.substr(0, dot);
    auto n = number(part);
    if (!n || part.size() > 3 || *n > 255 || part.size() == 0)
      return std::nullopt;
    v = v << 8 | *n;
    ++parts;
    if (dot == std::string_view::npos)
      break;
    s.remove_prefix(dot + 1);
    if (s.empty())
      return std::nullopt;
  }
  if (parts != 4)
    return std::nullopt;
  return value{0xffff} << 32 | v;
}

std::optional<value> ipv6(std::string_view s) {
  std::vector<uint16_t> head, tail;
  bool gap = false;
  auto* into = &head;
  size_t at = 0;
  if (s.substr(0, 2) == "::") {
    gap = true;
    into = &tail;
    at = 2;
  }
  while (at < s.size()) {
    size_t colon = s.find(':', at);
    auto group
        = s.substr(at, colon == std::string_view::npos ? std::string_view::npos
                                                       : colon - at);
    if (group.empty() || group.size() > 4)
      return std::nullopt;
    auto g = number("0x" + std::string{group});
    if (!g)
      return std::nullopt;
    into->push_back(static_cast<uint16_t>(*g));
    if (colon == std::string_view::npos)
      break;
    at = colon + 1;
    if (at < s.size() && s[at] == ':') {
      if (gap)
        return std::nullopt;
      gap = true;
      into = &tail;
      ++at;
    } else if (at == s.size()) {
      return std::nullopt;
    }
  }
  size_t groups = head.size() + tail.size();
  if (groups > 8 || (!gap && groups != 8) || (gap && groups == 8))
    return std::nullopt;
  value v = 0;
  for (auto g : head)
    v = v << 16 | g;
  for (size_t i = groups; i < 8; ++i)
    v = v << 16;
  value t = 0;
  for (auto g : tail)
    t = t << 16 | g;
  return v | t;
}

} // namespace drover::test::windivert_filter::detail
