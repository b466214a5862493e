// What the engine answers for the application, built from real captured
// packets (packet_world.hpp): the reset a server would send for a closed
// port, and the ICMP port unreachable a host without the port would send,
// IPv4 and IPv6.

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/bytes.hpp"
#include "net/checksum.hpp"
#include "net/packet.hpp"
#include "tests/net/packet_world.hpp"
#include "tests/support/ipv6_segment.hpp"

using namespace drover::net;
using namespace drover::test::packet_world;

// While the engine cannot proxy, a captured SYN is answered with the reset
// the server would send for a closed port, so the application fails at
// once instead of waiting (and nothing leaks).
TEST(packet_build, a_reset_answers_a_real_syn) {
  const auto& syn = complete()[tcp_syn];
  auto in = parsed(syn);
  bytes out(64);
  auto n = build_tcp_reset(out.data(), out.size(), syn.data(), in);
  ASSERT_EQ(n, 40u);
  out.resize(n);
  auto info = parsed(out);
  ASSERT_TRUE(info.is_tcp());
  EXPECT_EQ(info.src, in.dst);
  EXPECT_EQ(info.dst, in.src);
  EXPECT_EQ(info.tcp_flags, tcp_flag::rst | tcp_flag::ack);
  // RST+ACK acknowledges the SYN: its sequence number plus one.
  EXPECT_EQ(load32(out.data() + 20 + 8),
            load32(syn.data() + in.l4_offset + 4) + 1);
  EXPECT_TRUE(checksums_valid(out.data(), info));
}

TEST(packet_build, a_reset_answers_data_with_its_ack_and_never_a_reset) {
  const auto& data = complete()[tcp_data];
  auto in = parsed(data);
  bytes out(64);
  ASSERT_EQ(build_tcp_reset(out.data(), out.size(), data.data(), in), 40u);
  auto info = parsed(out);
  EXPECT_EQ(info.tcp_flags, tcp_flag::rst);
  EXPECT_EQ(load32(out.data() + 20 + 4),
            load32(data.data() + in.l4_offset + 8));
  EXPECT_TRUE(checksums_valid(out.data(), info));
  // A reset is never answered; nor is UDP; nor does it overflow.
  bytes rst = out;
  rst.resize(40);
  EXPECT_EQ(build_tcp_reset(out.data(), out.size(), rst.data(), parsed(rst)),
            0u);
  const auto& udp = complete()[udp_small];
  EXPECT_EQ(build_tcp_reset(out.data(), out.size(), udp.data(), parsed(udp)),
            0u);
  EXPECT_EQ(build_tcp_reset(out.data(), 39, data.data(), in), 0u);
}

TEST(packet_build, an_ipv6_syn_gets_an_ipv6_reset_from_its_remote) {
  using drover::test::ula;
  auto syn = drover::test::ipv6_tcp_segment(ula(1), 40010, ula(3), 443,
                                            tcp_flag::syn, 1000, 0);
  ASSERT_EQ(drover::test::ipv6_tcp_sum(syn), 0) << "the hand-made SYN";
  bytes out(80, 0xee);
  ASSERT_EQ(build_tcp_reset(out.data(), out.size(), syn.data(), parsed(syn)),
            60u);
  out.resize(60);
  auto info = parsed(out);
  EXPECT_EQ(info.ip_version, 6);
  EXPECT_EQ(info.protocol, proto_tcp);
  EXPECT_EQ(load16(out.data() + 4), 20) << "payload length: the TCP header";
  EXPECT_TRUE(std::equal(out.begin() + 8, out.begin() + 24, syn.begin() + 24))
      << "from the SYN's destination";
  EXPECT_TRUE(std::equal(out.begin() + 24, out.begin() + 40, syn.begin() + 8))
      << "to its source";
  EXPECT_EQ(load16(out.data() + 40), 443);
  EXPECT_EQ(load16(out.data() + 42), 40010);
  EXPECT_EQ(out[53], tcp_flag::rst | tcp_flag::ack);
  EXPECT_EQ(load32(out.data() + 48), 1001u) << "acknowledges the SYN";
  EXPECT_EQ(drover::test::ipv6_tcp_sum(out), 0) << "checksum";
}

TEST(packet_build, an_ipv6_reset_answers_data_with_its_ack_and_never_a_reset) {
  using drover::test::ipv6_tcp_segment;
  using drover::test::ula;
  bytes out(80);
  auto data = ipv6_tcp_segment(ula(1), 40011, ula(3), 443, tcp_flag::ack | 0x08,
                               5000, 77777, 10);
  ASSERT_EQ(build_tcp_reset(out.data(), out.size(), data.data(), parsed(data)),
            60u);
  out.resize(60);
  EXPECT_EQ(out[53], tcp_flag::rst);
  EXPECT_EQ(load32(out.data() + 44), 77777u) << "its ACK as sequence number";
  EXPECT_EQ(drover::test::ipv6_tcp_sum(out), 0);
  out.resize(80);
  auto rst = ipv6_tcp_segment(ula(1), 40011, ula(3), 443, tcp_flag::rst, 1, 0);
  EXPECT_EQ(build_tcp_reset(out.data(), out.size(), rst.data(), parsed(rst)),
            0u);
  // Behind an extension header (hop-by-hop, 0), or cut short: unanswered.
  auto hop
      = ipv6_tcp_segment(ula(1), 40011, ula(3), 443, tcp_flag::syn, 1, 0, 0, 0);
  EXPECT_EQ(build_tcp_reset(out.data(), out.size(), hop.data(), parsed(hop)),
            0u);
  auto syn = ipv6_tcp_segment(ula(1), 40011, ula(3), 443, tcp_flag::syn, 1, 0);
  for (size_t cut = 40; cut < 60; ++cut) {
    bytes shorter(syn.begin(), syn.begin() + static_cast<long>(cut));
    set_payload_length_to_fit(shorter);
    packet_info info;
    if (parse(shorter.data(), shorter.size(), info) == parse_error::none) {
      EXPECT_EQ(build_tcp_reset(out.data(), out.size(), shorter.data(), info),
                0u)
          << cut;
    }
  }
  auto bad_offset = syn;
  bad_offset[52] = 4 << 4; // a data offset below the header's 5 words
  EXPECT_EQ(build_tcp_reset(out.data(), out.size(), bad_offset.data(),
                            parsed(bad_offset)),
            0u);
  EXPECT_EQ(build_tcp_reset(out.data(), 59, syn.data(), parsed(syn)), 0u);
  // A UDP datagram over IPv6 is not answered with a reset.
  EXPECT_EQ(build_tcp_reset(out.data(), out.size(), complete()[udp6].data(),
                            parsed(complete()[udp6])),
            0u);
}

// A target's IPv6 datagram is answered as a host without that port would
// (RFC 4443 3.1), so the application's socket reports "refused" at once.
TEST(packet_build, an_ipv6_datagram_gets_a_port_unreachable_from_its_remote) {
  const auto& udp = complete()[udp6];
  auto in = parsed(udp);
  ASSERT_EQ(in.protocol, proto_udp);
  bytes out(2000, 0xee);
  auto n = build_icmp6_port_unreachable(out.data(), out.size(), udp.data(), in);
  ASSERT_EQ(n, 48u + in.total_length);
  out.resize(n);
  auto info = parsed(out);
  EXPECT_EQ(info.ip_version, 6);
  EXPECT_EQ(info.protocol, proto_icmpv6);
  EXPECT_EQ(load16(out.data() + 4), n - 40) << "payload length";
  EXPECT_TRUE(std::equal(out.begin() + 8, out.begin() + 24, udp.begin() + 24))
      << "from the datagram's destination";
  EXPECT_TRUE(std::equal(out.begin() + 24, out.begin() + 40, udp.begin() + 8))
      << "to its source";
  EXPECT_EQ(out[40], 1) << "destination unreachable";
  EXPECT_EQ(out[41], 4) << "port unreachable";
  EXPECT_EQ(load32(out.data() + 44), 0u) << "unused, zero";
  EXPECT_TRUE(std::equal(out.begin() + 48, out.end(), udp.begin(),
                         udp.begin() + in.total_length))
      << "the datagram quoted whole";
  EXPECT_EQ(drover::test::ipv6_l4_sum(out, proto_icmpv6), 0) << "checksum";
}

TEST(packet_build, a_port_unreachable_stays_within_the_minimum_mtu) {
  auto big = complete()[udp6];
  big.resize(40 + 1400, 'x');
  store16(big.data() + 4, 1400);
  store16(big.data() + 44, 1400); // the UDP length
  bytes out(2000);
  auto n = build_icmp6_port_unreachable(out.data(), out.size(), big.data(),
                                        parsed(big));
  ASSERT_EQ(n, 1280u);
  out.resize(n);
  EXPECT_TRUE(std::equal(out.begin() + 48, out.end(), big.begin()))
      << "its first 1232 bytes quoted";
  EXPECT_EQ(drover::test::ipv6_l4_sum(out, proto_icmpv6), 0);
  // Too small a buffer, TCP, IPv4 UDP, to a group, a UDP header cut
  // short: none.
  EXPECT_EQ(
      build_icmp6_port_unreachable(out.data(), 1279, big.data(), parsed(big)),
      0u);
  auto syn = drover::test::ipv6_tcp_segment(drover::test::ula(1), 40010,
                                            drover::test::ula(3), 443,
                                            tcp_flag::syn, 1000, 0);
  EXPECT_EQ(build_icmp6_port_unreachable(out.data(), out.size(), syn.data(),
                                         parsed(syn)),
            0u);
  const auto& udp4 = complete()[udp_small];
  EXPECT_EQ(build_icmp6_port_unreachable(out.data(), out.size(), udp4.data(),
                                         parsed(udp4)),
            0u);
  auto multicast = complete()[udp6];
  multicast[24] = 0xff; // ff..: a group, which no error answers
  EXPECT_EQ(build_icmp6_port_unreachable(out.data(), out.size(),
                                         multicast.data(), parsed(multicast)),
            0u);
  bytes cut(big.begin(), big.begin() + 46);
  store16(cut.data() + 4, 6);
  EXPECT_EQ(build_icmp6_port_unreachable(out.data(), out.size(), cut.data(),
                                         parsed(cut)),
            0u);
}

// A blocked program's IPv4 datagram: answered as a host without that port
// would (RFC 792), readable by the engine's own ICMP reader.
TEST(packet_build, an_ipv4_datagram_gets_a_port_unreachable_from_its_remote) {
  const auto& udp = complete()[udp_small];
  auto in = parsed(udp);
  bytes out(1000, 0xee);
  auto n = build_icmp_port_unreachable(out.data(), out.size(), udp.data(), in);
  ASSERT_EQ(n, 28u + in.total_length);
  out.resize(n);
  auto info = parsed(out);
  EXPECT_EQ(info.protocol, proto_icmp);
  EXPECT_EQ(info.src.ip, in.dst.ip) << "from the datagram's destination";
  EXPECT_EQ(info.dst.ip, in.src.ip) << "to its source";
  EXPECT_EQ(out[20], 3) << "destination unreachable";
  EXPECT_EQ(out[21], 3) << "port unreachable";
  EXPECT_TRUE(checksums_valid(out.data(), info)) << "the IP header's";
  EXPECT_EQ(finish(sum_bytes(out.data() + 20, n - 20)), 0) << "the ICMP sum";
  refused_datagram refused;
  ASSERT_TRUE(parse_port_unreachable(out.data(), info, refused));
  EXPECT_EQ(refused.src, in.src);
  EXPECT_EQ(refused.dst, in.dst);
  // 576 bytes at most; a group, the broadcast address, a later fragment,
  // TCP, IPv6, too small a buffer: none.
  const auto& first = complete()[udp_frag_first];
  bytes big(1000);
  EXPECT_EQ(build_icmp_port_unreachable(big.data(), big.size(), first.data(),
                                        parsed(first)),
            576u);
  for (uint32_t group : {0xe0000001u, 0xefffffffu, 0xffffffffu}) {
    auto to_group = udp;
    store32(to_group.data() + 16, group);
    EXPECT_EQ(build_icmp_port_unreachable(big.data(), big.size(),
                                          to_group.data(), parsed(to_group)),
              0u)
        << group;
  }
  for (auto which : {udp_frag_middle, tcp_syn, udp6})
    EXPECT_EQ(build_icmp_port_unreachable(big.data(), big.size(),
                                          complete()[which].data(),
                                          parsed(complete()[which])),
              0u)
        << which;
  EXPECT_EQ(build_icmp_port_unreachable(big.data(), n - 1, udp.data(), in), 0u);
}
