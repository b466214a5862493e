// Any bytes as a captured packet: parse (and the ICMP error reader, the
// reset and port-unreachable builders, and the Windows port's source-port
// reader, which walks IPv6 extension headers) must not read out of bounds, and
// a packet it accepts must survive the packet path's rewrites with checksums
// that verify.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/attribution.hpp"
#include "net/nat.hpp"
#include "net/packet.hpp"

using namespace drover::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy, so ASan sees any overread.
  std::vector<uint8_t> buf(data, data + size);
  uint8_t protocol = 0;
  uint64_t remote = 0;
  if (source_port(buf.data(), buf.size(), protocol, remote) != 0 && remote == 0)
    std::abort(); // a port always comes with its remote
  packet_info info;
  if (parse(buf.data(), buf.size(), info) != parse_error::none)
    return 0;
  if (info.total_length > size
      || size_t{info.payload_offset} + info.payload_length > size)
    std::abort();
  // An ICMP error's quote is read within the packet's own lengths (ASan
  // sees any overread of the exact-size copy).
  refused_datagram refused;
  (void)parse_port_unreachable(buf.data(), info, refused);
  // A reset for whatever TCP it is (IPv6 included, whose TCP header only
  // the builder reads) stays within the packet and parses.
  uint8_t reset[60];
  if (auto n = build_tcp_reset(reset, sizeof reset, buf.data(), info)) {
    packet_info answer;
    if (parse(reset, n, answer) != parse_error::none
        || answer.ip_version != info.ip_version)
      std::abort();
  }
  // A port unreachable for whatever UDP it is quotes only the packet's own
  // bytes (ASan), at most 1280 in all (576 for IPv4), and parses as ICMP
  // (IPv4: readable by the engine's own ICMP reader) or ICMPv6.
  static uint8_t unreachable[1280];
  if (auto n = build_icmp6_port_unreachable(unreachable, sizeof unreachable,
                                            buf.data(), info)) {
    packet_info answer;
    if (n > sizeof unreachable
        || parse(unreachable, n, answer) != parse_error::none
        || answer.protocol != proto_icmpv6)
      std::abort();
  }
  if (auto n = build_icmp_port_unreachable(unreachable, sizeof unreachable,
                                           buf.data(), info)) {
    packet_info answer;
    refused_datagram quoted;
    if (n > 576 || parse(unreachable, n, answer) != parse_error::none
        || answer.protocol != proto_icmp
        || !parse_port_unreachable(unreachable, answer, quoted)
        || quoted.src != info.src || quoted.dst != info.dst)
      std::abort();
  }
  if (info.ip_version != 4 || !info.has_ports)
    return 0;
  bool valid_before = checksums_valid(buf.data(), info);
  packet_ref p{buf.data(), info};
  nat_flow f{info.src, info.dst, {ipv4_address{0x7f000002}, info.src.port}};
  listener_address l{nat_shape::loopback, 15001};
  to_listener(p, l, f);
  packet_info after;
  if (parse(buf.data(), buf.size(), after) != parse_error::none)
    std::abort(); // a rewrite must keep a packet parseable
  // Incremental updates keep a valid checksum valid.
  if (valid_before && !info.fragment && !checksums_valid(buf.data(), after))
    std::abort();
  // The listener's reply direction on a copy: still valid.
  auto reply = buf;
  packet_ref r{reply.data(), after};
  from_listener(r, l, f);
  if (valid_before && !info.fragment && !checksums_valid(reply.data(), r.info))
    std::abort();
  // Rewriting back restores the original bytes, except that a checksum
  // field of 0xffff (one's complement -0, which verifies but which no sender
  // computes) may come back as 0x0000: the same sum (checksum_test pins it).
  set_source(p, info.src);
  set_destination(p, info.dst);
  if (valid_before) {
    auto restored = buf;
    auto allow_minus_zero = [&](size_t at) {
      if (at + 2 <= size && data[at] == 0xff && data[at + 1] == 0xff
          && restored[at] == 0 && restored[at + 1] == 0)
        restored[at] = restored[at + 1] = 0xff;
    };
    allow_minus_zero(10); // the IPv4 header checksum
    if (info.protocol == 6)
      allow_minus_zero(size_t{info.l4_offset} + 16); // TCP's (UDP maps 0)
    if (std::memcmp(restored.data(), data, size) != 0)
      std::abort();
  }
  // Building a reply around the payload always yields a valid datagram.
  std::vector<uint8_t> out(max_packet_size);
  auto n = build_ipv4_udp(out.data(), out.size(), info.dst, info.src,
                          buf.data() + info.payload_offset, info.payload_length,
                          1);
  if (n != 0) {
    packet_info built;
    if (parse(out.data(), n, built) != parse_error::none
        || !checksums_valid(out.data(), built))
      std::abort();
  }
  return 0;
}
