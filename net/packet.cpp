#include "net/packet.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"
#include "net/checksum.hpp"

namespace drover::net {

namespace {

constexpr size_t ipv4_min_header = 20;
constexpr size_t ipv6_header = 40;
constexpr size_t tcp_min_header = 20;
constexpr size_t udp_header = 8;

// Offsets inside the IPv4 header.
constexpr size_t ip_total_length = 2;
constexpr size_t ip_id = 4;
constexpr size_t ip_flags_fragment = 6;
constexpr size_t ip_ttl = 8;
constexpr size_t ip_protocol = 9;
constexpr size_t ip_checksum = 10;
constexpr size_t ip_src = 12;
constexpr size_t ip_dst = 16;

size_t l4_checksum_offset(const packet_info& info) {
  return info.l4_offset + (info.protocol == proto_tcp ? 16u : 6u);
}

void update_ip_address(packet_ref& p, size_t at, uint32_t old_ip,
                       uint32_t new_ip) {
  store32(p.data + at, new_ip);
  auto field = load16(p.data + ip_checksum);
  store16(p.data + ip_checksum, update32(field, old_ip, new_ip));
  if (!p.info.has_ports || p.info.fragment)
    return;
  auto at_l4 = l4_checksum_offset(p.info);
  auto l4 = load16(p.data + at_l4);
  if (p.l4_checksum == checksum_state::partial) {
    store16(p.data + at_l4, update_partial32(l4, old_ip, new_ip));
    return;
  }
  if (p.info.protocol == proto_udp && l4 == 0)
    return; // no checksum
  auto updated = update32(l4, old_ip, new_ip);
  if (p.info.protocol == proto_udp && updated == 0)
    updated = 0xffff; // zero means "no checksum" in UDP
  store16(p.data + at_l4, updated);
}

void update_port(packet_ref& p, size_t at, uint16_t old_port,
                 uint16_t new_port) {
  store16(p.data + at, new_port);
  // A partial checksum does not cover the transport header yet: the kernel
  // sums it (with the new port) when it finishes the checksum.
  if (p.l4_checksum == checksum_state::partial)
    return;
  auto at_l4 = l4_checksum_offset(p.info);
  auto l4 = load16(p.data + at_l4);
  if (p.info.protocol == proto_udp && l4 == 0)
    return;
  auto updated = update16(l4, old_port, new_port);
  if (p.info.protocol == proto_udp && updated == 0)
    updated = 0xffff;
  store16(p.data + at_l4, updated);
}

uint32_t l4_sum(const uint8_t* data, const packet_info& info) {
  auto l4_length = static_cast<uint16_t>(info.total_length - info.l4_offset);
  auto sum = pseudo_header_sum(info.src.ip.value, info.dst.ip.value,
                               info.protocol, l4_length);
  return sum_bytes(data + info.l4_offset, l4_length, sum);
}

} // namespace

const char* to_string(parse_error e) {
  switch (e) {
    case parse_error::none:
      return "ok";
    case parse_error::empty:
      return "empty packet";
    case parse_error::unknown_version:
      return "not an IPv4 or IPv6 packet";
    case parse_error::bad_header_length:
      return "bad IPv4 header length";
    case parse_error::bad_total_length:
      return "bad IP total length";
    case parse_error::bad_transport_header:
      return "bad TCP/UDP header";
  }
  return "unknown";
}

parse_error parse(const uint8_t* data, size_t length, packet_info& info) {
  info = packet_info{};
  if (length == 0)
    return parse_error::empty;
  info.ip_version = static_cast<uint8_t>(data[0] >> 4);
  if (info.ip_version == 6) {
    if (length < ipv6_header)
      return parse_error::bad_total_length;
    auto payload = load16(data + 4);
    if (ipv6_header + payload > length)
      return parse_error::bad_total_length;
    info.protocol = data[6];
    info.ip_header_length = static_cast<uint16_t>(ipv6_header);
    info.total_length = static_cast<uint16_t>(
        ipv6_header + payload > 0xffff ? 0xffff : ipv6_header + payload);
    return parse_error::none;
  }
  if (info.ip_version != 4)
    return parse_error::unknown_version;
  if (length < ipv4_min_header)
    return parse_error::bad_header_length;
  size_t ihl = size_t{data[0] & 0x0fu} * 4;
  if (ihl < ipv4_min_header || ihl > length)
    return parse_error::bad_header_length;
  size_t total = load16(data + ip_total_length);
  if (total < ihl || total > length)
    return parse_error::bad_total_length;
  info.ip_header_length = static_cast<uint16_t>(ihl);
  info.total_length = static_cast<uint16_t>(total);
  info.protocol = data[ip_protocol];
  auto frag = load16(data + ip_flags_fragment);
  bool more_fragments = (frag & 0x2000u) != 0;
  auto offset = frag & 0x1fffu;
  info.fragment = more_fragments || offset != 0;
  info.src.ip = ipv4_address{load32(data + ip_src)};
  info.dst.ip = ipv4_address{load32(data + ip_dst)};
  info.l4_offset = static_cast<uint16_t>(ihl);
  info.payload_offset = static_cast<uint16_t>(ihl);
  info.payload_length = static_cast<uint16_t>(total - ihl);
  if (offset != 0)
    return parse_error::none; // no transport header in this fragment
  const uint8_t* l4 = data + ihl;
  size_t l4_length = total - ihl;
  if (info.protocol == proto_tcp) {
    if (l4_length < tcp_min_header)
      return parse_error::bad_transport_header;
    size_t data_offset = (size_t{l4[12]} >> 4) * 4;
    if (data_offset < tcp_min_header || data_offset > l4_length)
      return parse_error::bad_transport_header;
    info.tcp_flags = l4[13];
    info.payload_offset = static_cast<uint16_t>(ihl + data_offset);
    info.payload_length = static_cast<uint16_t>(l4_length - data_offset);
  } else if (info.protocol == proto_udp) {
    if (l4_length < udp_header)
      return parse_error::bad_transport_header;
    size_t udp_length = load16(l4 + 4);
    // A first fragment carries only part of the datagram.
    if (udp_length < udp_header || (!info.fragment && udp_length != l4_length)
        || (info.fragment && udp_length < l4_length))
      return parse_error::bad_transport_header;
    info.payload_offset = static_cast<uint16_t>(ihl + udp_header);
    info.payload_length = static_cast<uint16_t>(l4_length - udp_header);
  } else {
    return parse_error::none;
  }
  info.has_ports = true;
  info.src.port = load16(l4);
  info.dst.port = load16(l4 + 2);
  return parse_error::none;
}

void set_source(packet_ref& p, endpoint e) {
  if (e.ip != p.info.src.ip)
    update_ip_address(p, ip_src, p.info.src.ip.value, e.ip.value);
  if (p.info.has_ports && e.port != p.info.src.port)
    update_port(p, p.info.l4_offset, p.info.src.port, e.port);
  p.info.src.ip = e.ip;
  if (p.info.has_ports)
    p.info.src.port = e.port;
}

void set_destination(packet_ref& p, endpoint e) {
  if (e.ip != p.info.dst.ip)
    update_ip_address(p, ip_dst, p.info.dst.ip.value, e.ip.value);
  if (p.info.has_ports && e.port != p.info.dst.port)
    update_port(p, p.info.l4_offset + 2u, p.info.dst.port, e.port);
  p.info.dst.ip = e.ip;
  if (p.info.has_ports)
    p.info.dst.port = e.port;
}

void recompute_checksums(uint8_t* data, const packet_info& info) {
  store16(data + ip_checksum, 0);
  store16(data + ip_checksum, finish(sum_bytes(data, info.ip_header_length)));
  if (!info.has_ports || info.fragment)
    return;
  auto at = l4_checksum_offset(info);
  store16(data + at, 0);
  auto value = finish(l4_sum(data, info));
  if (info.protocol == proto_udp && value == 0)
    value = 0xffff;
  store16(data + at, value);
}

bool checksums_valid(const uint8_t* data, const packet_info& info) {
  if (fold(sum_bytes(data, info.ip_header_length)) != 0xffff)
    return false;
  if (!info.has_ports || info.fragment)
    return true;
  if (info.protocol == proto_udp
      && load16(data + l4_checksum_offset(info)) == 0)
    return true;
  return fold(l4_sum(data, info)) == 0xffff;
}

namespace {

// Sets the checksums of a packet built from scratch (20-byte IPv4 header,
// then the transport header).
void finish_built(uint8_t* out, uint8_t protocol, size_t total, endpoint src,
                  endpoint dst) {
  packet_info info;
  info.ip_version = 4;
  info.protocol = protocol;
  info.ip_header_length = static_cast<uint16_t>(ipv4_min_header);
  info.total_length = static_cast<uint16_t>(total);
  info.has_ports = true;
  info.src = src;
  info.dst = dst;
  info.l4_offset = static_cast<uint16_t>(ipv4_min_header);
  recompute_checksums(out, info);
}

} // namespace

namespace {

// The TCP header of the reset answering `seg` (RFC 793 "Reset
// Generation"), ports swapped, checksum left zero.
void write_reset_header(uint8_t* tcp, const uint8_t* seg, uint8_t flags,
                        uint32_t payload_length) {
  uint32_t seq = load32(seg + 4);
  uint32_t ack = load32(seg + 8);
  // Sequence space the segment occupies: its payload, plus one for SYN and
  // one for FIN.
  uint32_t length = payload_length + ((flags & tcp_flag::syn) ? 1u : 0u)
                    + ((flags & tcp_flag::fin) ? 1u : 0u);
  std::memset(tcp, 0, tcp_min_header);
  std::memcpy(tcp, seg + 2, 2); // from the segment's destination port
  std::memcpy(tcp + 2, seg, 2); // to its source port
  if (flags & tcp_flag::ack) {
    store32(tcp + 4, ack);
    tcp[13] = tcp_flag::rst;
  } else {
    store32(tcp + 8, seq + length);
    tcp[13] = tcp_flag::rst | tcp_flag::ack;
  }
  tcp[12] = 5 << 4; // data offset: 5 words
}

// The IPv6 case: parse() stops at the fixed header, so the segment's TCP
// header is checked here. A segment behind extension headers is not
// answered (its sender's stack is not one a target runs).
size_t build_tcp6_reset(uint8_t* out, size_t capacity, const uint8_t* data,
                        const packet_info& info) {
  constexpr size_t total = ipv6_header + tcp_min_header;
  if (capacity < total || info.protocol != proto_tcp
      || info.total_length < ipv6_header + tcp_min_header)
    return 0;
  const uint8_t* seg = data + ipv6_header;
  size_t data_offset = (size_t{seg[12]} >> 4) * 4;
  size_t l4_length = info.total_length - ipv6_header;
  if (data_offset < tcp_min_header || data_offset > l4_length
      || (seg[13] & tcp_flag::rst) != 0)
    return 0;
  std::memset(out, 0, ipv6_header);
  out[0] = 0x60;
  store16(out + 4, static_cast<uint16_t>(tcp_min_header));
  out[6] = proto_tcp;
  out[7] = 64;                         // hop limit
  std::memcpy(out + 8, data + 24, 16); // from the segment's destination
  std::memcpy(out + 24, data + 8, 16); // to its source
  write_reset_header(out + ipv6_header, seg, seg[13],
                     static_cast<uint32_t>(l4_length - data_offset));
  set_ipv6_l4_checksum(out, total);
  return total;
}

} // namespace

void set_ipv6_l4_checksum(uint8_t* packet, size_t length) {
  uint8_t next = packet[6];
  size_t at = next == proto_tcp   ? ipv6_header + 16
              : next == proto_udp ? ipv6_header + 6
                                  : 0;
  if (at == 0 || length < at + 2)
    return;
  store16(packet + at, 0);
  uint32_t sum = sum_bytes(packet + 8, 32);
  sum += static_cast<uint32_t>(length - ipv6_header) + next;
  auto value
      = finish(sum_bytes(packet + ipv6_header, length - ipv6_header, sum));
  if (value == 0 && next == proto_udp)
    value = 0xffff; // zero is "no checksum", which IPv6 UDP may not send
  store16(packet + at, value);
}

size_t build_tcp_reset(uint8_t* out, size_t capacity, const uint8_t* data,
                       const packet_info& info) {
  if (info.ip_version == 6)
    return build_tcp6_reset(out, capacity, data, info);
  constexpr size_t total = ipv4_min_header + tcp_min_header;
  if (capacity < total || !info.is_tcp() || info.ip_version != 4
      || (info.tcp_flags & tcp_flag::rst) != 0)
    return 0;
  std::memset(out, 0, ipv4_min_header);
  out[0] = 0x45;
  store16(out + ip_total_length, static_cast<uint16_t>(total));
  out[ip_ttl] = 64;
  out[ip_protocol] = proto_tcp;
  store32(out + ip_src, info.dst.ip.value);
  store32(out + ip_dst, info.src.ip.value);
  write_reset_header(out + ipv4_min_header, data + info.l4_offset,
                     info.tcp_flags, info.payload_length);
  finish_built(out, proto_tcp, total, info.dst, info.src);
  return total;
}

namespace {

constexpr size_t icmp_header = 8;

// An ICMP error's body in `out`: behind room for its `ip_header` and its
// ICMP header (both zeroed), as much of the offending `length` bytes as
// keeps the whole within `limit`. Its total length, or 0 when `out` is too
// small.
size_t place_icmp_quote(uint8_t* out, size_t capacity, const uint8_t* data,
                        size_t length, size_t ip_header, size_t limit) {
  size_t quoted = std::min(length, limit - ip_header - icmp_header);
  size_t total = ip_header + icmp_header + quoted;
  if (capacity < total)
    return 0;
  std::memcpy(out + ip_header + icmp_header, data, quoted);
  std::memset(out, 0, ip_header + icmp_header);
  return total;
}

} // namespace

size_t build_icmp6_port_unreachable(uint8_t* out, size_t capacity,
                                    const uint8_t* data,
                                    const packet_info& info) {
  // RFC 4443 2.4 (c): an error quotes as much of the packet as keeps it
  // within the minimum IPv6 MTU.
  constexpr size_t minimum_mtu = 1280;
  if (info.ip_version != 6 || info.protocol != proto_udp
      || info.total_length < ipv6_header + udp_header)
    return 0;
  if (data[24] == 0xff)
    return 0; // to a multicast group: never answered (RFC 4443 2.4 (e.3))
  size_t total = place_icmp_quote(out, capacity, data, info.total_length,
                                  ipv6_header, minimum_mtu);
  if (total == 0)
    return 0;
  size_t icmp_length = total - ipv6_header;
  out[0] = 0x60;
  store16(out + 4, static_cast<uint16_t>(icmp_length));
  out[6] = proto_icmpv6;
  out[7] = 64;                         // hop limit
  std::memcpy(out + 8, data + 24, 16); // from the datagram's destination
  std::memcpy(out + 24, data + 8, 16); // to its source
  out[ipv6_header] = 1;                // destination unreachable
  out[ipv6_header + 1] = 4;            // port unreachable
  uint32_t sum = sum_bytes(out + 8, 32);
  sum += static_cast<uint32_t>(icmp_length) + proto_icmpv6;
  store16(out + ipv6_header + 2,
          finish(sum_bytes(out + ipv6_header, icmp_length, sum)));
  return total;
}

size_t build_icmp_port_unreachable(uint8_t* out, size_t capacity,
                                   const uint8_t* data,
                                   const packet_info& info) {
  // RFC 1812 4.3.2.3: as much of the datagram as keeps the error within
  // 576 bytes.
  constexpr size_t at_most = 576;
  if (info.ip_version != 4 || !info.is_udp())
    return 0;
  auto to = info.dst.ip.value;
  if ((to >> 28) == 0xe || to == 0xffffffffu)
    return 0; // to a group or everyone: never answered (RFC 1122 3.2.2)
  size_t total = place_icmp_quote(out, capacity, data, info.total_length,
                                  ipv4_min_header, at_most);
  if (total == 0)
    return 0;
  out[0] = 0x45;
  store16(out + ip_total_length, static_cast<uint16_t>(total));
  out[ip_ttl] = 64;
  out[ip_protocol] = proto_icmp;
  store32(out + ip_src, to); // from the datagram's destination
  store32(out + ip_dst, info.src.ip.value);
  store16(out + ip_checksum, finish(sum_bytes(out, ipv4_min_header)));
  uint8_t* icmp = out + ipv4_min_header;
  icmp[0] = 3; // destination unreachable
  icmp[1] = 3; // port unreachable
  store16(icmp + 2, finish(sum_bytes(icmp, total - ipv4_min_header)));
  return total;
}

bool parse_port_unreachable(const uint8_t* data, const packet_info& info,
                            refused_datagram& out) {
  if (info.ip_version != 4 || info.protocol != proto_icmp || info.fragment)
    return false;
  size_t l4 = info.l4_offset;
  size_t end = info.total_length;
  if (end < l4 + icmp_header + ipv4_min_header + 8)
    return false;
  if (data[l4] != 3 || data[l4 + 1] != 3)
    return false; // not "destination unreachable: port unreachable"
  const uint8_t* inner = data + l4 + icmp_header;
  size_t inner_ihl = size_t{inner[0] & 0x0fu} * 4;
  if ((inner[0] >> 4) != 4 || inner_ihl < ipv4_min_header
      || l4 + icmp_header + inner_ihl + 8 > end
      || inner[ip_protocol] != proto_udp)
    return false;
  out.src = {ipv4_address{load32(inner + ip_src)}, load16(inner + inner_ihl)};
  out.dst
      = {ipv4_address{load32(inner + ip_dst)}, load16(inner + inner_ihl + 2)};
  out.ip_id = load16(inner + 4);
  return true;
}

size_t build_ipv4_udp(uint8_t* out, size_t capacity, endpoint src, endpoint dst,
                      const uint8_t* payload, size_t payload_length,
                      uint16_t id, uint8_t ttl) {
  size_t total = ipv4_min_header + udp_header + payload_length;
  if (total > capacity || total > 0xffff)
    return 0;
  std::memset(out, 0, ipv4_min_header + udp_header);
  out[0] = 0x45; // version 4, 5 words of header
  store16(out + ip_total_length, static_cast<uint16_t>(total));
  store16(out + ip_id, id);
  out[ip_ttl] = ttl;
  out[ip_protocol] = proto_udp;
  store32(out + ip_src, src.ip.value);
  store32(out + ip_dst, dst.ip.value);
  uint8_t* udp = out + ipv4_min_header;
  store16(udp, src.port);
  store16(udp + 2, dst.port);
  store16(udp + 4, static_cast<uint16_t>(udp_header + payload_length));
  if (payload_length > 0)
    std::memmove(udp + udp_header, payload, payload_length);
  finish_built(out, proto_udp, total, src, dst);
  return total;
}

} // namespace drover::net
