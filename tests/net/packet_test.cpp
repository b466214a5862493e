// The packet code against real captured packets (tests/data): parsing,
// rewriting with incremental checksums, building (the engine's answers
// for the application, resets and port unreachables:
// packet_answers_test.cpp).

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/bytes.hpp"
#include "net/checksum.hpp"
#include "net/nat.hpp"
#include "net/packet.hpp"
#include "tests/net/packet_world.hpp"
#include "tests/support/ipv6_segment.hpp"

using namespace drover::net;

using namespace drover::test::packet_world;

TEST(packet_fixtures, are_the_expected_real_packets) {
  ASSERT_EQ(complete().size(), size_t{fixture_count});
  ASSERT_EQ(partial().size(), size_t{fixture_count});
}

TEST(packet_parse, tcp_syn_with_options) {
  auto& b = complete()[tcp_syn];
  auto info = parsed(b);
  EXPECT_EQ(info.ip_version, 4);
  EXPECT_TRUE(info.is_tcp());
  EXPECT_EQ(info.src.ip, *parse_ipv4("10.77.0.1"));
  EXPECT_EQ(info.dst, ep("10.77.0.2", 8080));
  EXPECT_EQ(info.tcp_flags & (tcp_flag::syn | tcp_flag::ack), tcp_flag::syn);
  EXPECT_EQ(info.payload_offset, 20 + 40) << "SYN carries 20 bytes of options";
  EXPECT_EQ(info.payload_length, 0);
  EXPECT_FALSE(info.fragment);
  EXPECT_TRUE(checksums_valid(b.data(), info));
}

TEST(packet_parse, tcp_and_udp_payloads) {
  auto data = parsed(complete()[tcp_data]);
  EXPECT_EQ(payload_of(complete()[tcp_data], data), "hello over tcp\n");
  auto udp = parsed(complete()[udp_small]);
  EXPECT_TRUE(udp.is_udp());
  EXPECT_EQ(udp.src.port, 40000);
  EXPECT_EQ(udp.dst, ep("10.77.0.2", 9000));
  EXPECT_EQ(payload_of(complete()[udp_small], udp), "ping over udp");
  for (size_t i = 0; i <= udp_small; ++i)
    EXPECT_TRUE(checksums_valid(complete()[i].data(), parsed(complete()[i])))
        << "fixture " << i;
}

TEST(packet_parse, fragments_are_flagged) {
  auto first = parsed(complete()[udp_frag_first]);
  EXPECT_TRUE(first.fragment);
  EXPECT_TRUE(first.has_ports) << "the first fragment has the UDP header";
  EXPECT_EQ(first.src.port, 40001);
  for (auto f : {udp_frag_middle, udp_frag_last}) {
    auto later = parsed(complete()[f]);
    EXPECT_TRUE(later.fragment);
    EXPECT_FALSE(later.has_ports);
    EXPECT_FALSE(later.is_udp());
  }
}

TEST(packet_parse, ipv6_is_recognised) {
  auto info = parsed(complete()[udp6]);
  EXPECT_EQ(info.ip_version, 6);
  EXPECT_EQ(info.protocol, proto_udp);
  EXPECT_FALSE(info.has_ports);
}

TEST(packet_parse, every_truncation_is_an_error_or_stays_in_bounds) {
  for (auto* set : {&complete(), &partial()}) {
    for (auto& full : *set) {
      for (size_t len = 0; len < full.size(); ++len) {
        // A fresh buffer of exactly `len` bytes: ASan catches any overread.
        bytes cut(full.begin(), full.begin() + static_cast<long>(len));
        packet_info info;
        auto err = parse(cut.data(), cut.size(), info);
        if (err == parse_error::none) {
          EXPECT_LE(info.total_length, len);
          EXPECT_LE(size_t{info.payload_offset} + info.payload_length, len);
        }
      }
    }
  }
}

TEST(packet_parse, malformed_headers_are_named) {
  auto syn = complete()[tcp_syn];
  packet_info info;
  auto with = [&](auto&& change) {
    auto b = syn;
    change(b);
    return parse(b.data(), b.size(), info);
  };
  EXPECT_EQ(parse(syn.data(), 0, info), parse_error::empty);
  EXPECT_EQ(with([](bytes& b) { b[0] = 0x55; }), parse_error::unknown_version);
  EXPECT_EQ(with([](bytes& b) { b[0] = 0x44; }),
            parse_error::bad_header_length);
  auto short_udp = complete()[udp_small]; // 41 bytes: IHL 15 is 60
  short_udp[0] = 0x4f;
  EXPECT_EQ(parse(short_udp.data(), short_udp.size(), info),
            parse_error::bad_header_length);
  EXPECT_EQ(with([](bytes& b) { store16(b.data() + 2, 19); }),
            parse_error::bad_total_length);
  EXPECT_EQ(with([](bytes& b) {
              store16(b.data() + 2, static_cast<uint16_t>(b.size() + 1));
            }),
            parse_error::bad_total_length);
  EXPECT_EQ(with([](bytes& b) { b[20 + 12] = 0x40; }),
            parse_error::bad_transport_header)
      << "TCP data offset 4 words";
  EXPECT_EQ(with([](bytes& b) { b[20 + 12] = 0xf0; }),
            parse_error::bad_transport_header)
      << "TCP data offset past the packet";
  auto udp = complete()[udp_small];
  store16(udp.data() + 20 + 4, 7);
  EXPECT_EQ(parse(udp.data(), udp.size(), info),
            parse_error::bad_transport_header);
  EXPECT_STREQ(to_string(parse_error::bad_total_length), "bad IP total length");
}

TEST(packet_parse, trailing_bytes_past_total_length_are_ignored) {
  auto b = complete()[udp_small];
  auto info = parsed(b);
  b.resize(b.size() + 6, 0xee); // Ethernet padding, for example
  packet_info padded;
  ASSERT_EQ(parse(b.data(), b.size(), padded), parse_error::none);
  EXPECT_EQ(padded.total_length, info.total_length);
  EXPECT_EQ(padded.payload_length, info.payload_length);
}

TEST(packet_rewrite, incremental_checksums_match_a_full_recompute) {
  const endpoint targets[]
      = {ep("127.0.0.1", 15001), ep("127.0.0.2", 37030), ep("192.0.2.200", 1),
         ep("255.255.255.255", 65535), ep("0.0.0.0", 0)};
  for (size_t i = 0; i <= udp_small; ++i) {
    for (auto& t : targets) {
      auto b = complete()[i];
      packet_ref p{b.data(), parsed(b)};
      set_destination(p, t);
      set_source(p, ep("10.1.2.3", 4321));
      packet_info again;
      ASSERT_EQ(parse(b.data(), b.size(), again), parse_error::none);
      EXPECT_EQ(again.dst, t);
      EXPECT_EQ(again.src, ep("10.1.2.3", 4321));
      EXPECT_TRUE(checksums_valid(b.data(), again)) << "fixture " << i;
      auto full = b;
      recompute_checksums(full.data(), again);
      EXPECT_EQ(b, full) << "fixture " << i << " to " << to_string(t.ip);
    }
  }
}

TEST(packet_rewrite, round_trip_restores_the_original_bytes) {
  for (size_t i = 0; i <= udp_small; ++i) {
    auto original = complete()[i];
    auto b = original;
    packet_ref p{b.data(), parsed(b)};
    auto src = p.info.src, dst = p.info.dst;
    set_destination(p, ep("127.0.0.1", 15001));
    set_source(p, ep("127.0.0.9", 2));
    set_source(p, src);
    set_destination(p, dst);
    EXPECT_EQ(b, original) << "fixture " << i;
  }
}

TEST(packet_rewrite, partial_checksums_stay_partial_and_finish_right) {
  for (size_t i = 0; i <= udp_small; ++i) {
    auto b = partial()[i];
    auto info = parsed(b);
    // The real kernel's partial field is the folded pseudo-header sum.
    auto pseudo = pseudo_header_sum(
        info.src.ip.value, info.dst.ip.value, info.protocol,
        static_cast<uint16_t>(info.total_length - info.l4_offset));
    ASSERT_EQ(l4_checksum_field(b, info), fold(pseudo)) << "fixture " << i;
    packet_ref p{b.data(), info, checksum_state::partial};
    set_destination(p, ep("127.0.0.1", 15001));
    set_source(p, ep("127.0.0.2", 40000));
    auto rewritten = parsed(b);
    auto expected_pseudo = pseudo_header_sum(
        rewritten.src.ip.value, rewritten.dst.ip.value, rewritten.protocol,
        static_cast<uint16_t>(rewritten.total_length - rewritten.l4_offset));
    EXPECT_EQ(l4_checksum_field(b, rewritten), fold(expected_pseudo));
    finish_partial(b, rewritten);
    EXPECT_TRUE(checksums_valid(b.data(), rewritten)) << "fixture " << i;
  }
}

TEST(packet_rewrite, udp_without_checksum_keeps_none) {
  auto b = complete()[udp_small];
  auto info = parsed(b);
  store16(b.data() + info.l4_offset + 6, 0);
  packet_ref p{b.data(), info};
  set_destination(p, ep("127.0.0.1", 5353));
  EXPECT_EQ(load16(b.data() + info.l4_offset + 6), 0);
  EXPECT_TRUE(checksums_valid(b.data(), parsed(b)));
}

TEST(packet_rewrite, fragment_rewrite_touches_only_the_ip_header) {
  auto b = complete()[udp_frag_middle];
  auto before = b;
  packet_ref p{b.data(), parsed(b)};
  set_destination(p, ep("127.0.0.1", 0));
  EXPECT_TRUE(checksums_valid(b.data(), parsed(b)));
  EXPECT_TRUE(std::equal(b.begin() + 20, b.end(), before.begin() + 20));
}

TEST(packet_build, udp_datagram_from_scratch) {
  std::string payload = "reply from the relay";
  bytes out(2048);
  auto n = build_ipv4_udp(
      out.data(), out.size(), ep("192.0.2.10", 3478), ep("10.77.0.1", 40000),
      reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), 7);
  ASSERT_EQ(n, 20 + 8 + payload.size());
  out.resize(n);
  auto info = parsed(out);
  EXPECT_TRUE(info.is_udp());
  EXPECT_EQ(info.src, ep("192.0.2.10", 3478));
  EXPECT_EQ(info.dst, ep("10.77.0.1", 40000));
  EXPECT_FALSE(info.fragment);
  EXPECT_EQ(payload_of(out, info), payload);
  EXPECT_TRUE(checksums_valid(out.data(), info));
}

// The IPv6 checksum against a real captured datagram's (the sending
// kernel's): recomputed from zero, it comes out the same.
TEST(packet_build, an_ipv6_checksum_matches_the_kernels) {
  auto udp = complete()[udp6];
  auto info = parsed(udp);
  bytes cleared = udp;
  store16(cleared.data() + 46, 0xdead);
  set_ipv6_l4_checksum(cleared.data(), info.total_length);
  EXPECT_EQ(cleared, udp);
  // Another next header (ICMPv6, 58) is left alone.
  cleared[6] = 58;
  bytes before = cleared;
  set_ipv6_l4_checksum(cleared.data(), info.total_length);
  EXPECT_EQ(cleared, before);
}

TEST(packet_build, payload_already_in_place_is_not_copied_over) {
  bytes buf(100, 0);
  std::memcpy(buf.data() + 28, "in place", 8);
  auto n = build_ipv4_udp(buf.data(), buf.size(), ep("1.2.3.4", 1),
                          ep("5.6.7.8", 2), buf.data() + 28, 8, 1);
  ASSERT_EQ(n, 36u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data() + 28), 8),
            "in place");
}

TEST(packet_build, size_limits) {
  bytes big(max_packet_size + 100);
  EXPECT_EQ(build_ipv4_udp(big.data(), big.size(), {}, {}, big.data() + 28,
                           65535 - 28, 1),
            65535u);
  EXPECT_EQ(build_ipv4_udp(big.data(), big.size(), {}, {}, big.data() + 28,
                           65535 - 27, 1),
            0u);
  bytes small(30);
  EXPECT_EQ(
      build_ipv4_udp(small.data(), small.size(), {}, {}, small.data(), 3, 1),
      0u);
}

TEST(nat_shapes, loopback_rewrite_and_return_path) {
  listener_address l{nat_shape::loopback, 15001};
  auto syn = complete()[tcp_syn];
  auto info = parsed(syn);
  nat_flow f{info.src, info.dst, ep("127.0.0.2", info.src.port)};
  packet_ref out{syn.data(), info};
  EXPECT_EQ(to_listener(out, l, f), inject_direction::outbound);
  auto seen = parsed(syn);
  EXPECT_EQ(seen.src, f.listener_peer);
  EXPECT_EQ(seen.dst, ep("127.0.0.1", 15001));
  EXPECT_TRUE(checksums_valid(syn.data(), seen));

  // The listener's SYN-ACK goes back to the peer it saw.
  auto reply = complete()[tcp_ack];
  packet_ref r{reply.data(), parsed(reply)};
  set_source(r, {l.loopback_ip, l.port});
  set_destination(r, f.listener_peer);
  EXPECT_TRUE(is_from_listener(r.info, l));
  EXPECT_EQ(from_listener(r, l, f), inject_direction::outbound);
  auto back = parsed(reply);
  EXPECT_EQ(back.src, f.remote) << "the application sees its remote";
  EXPECT_EQ(back.dst, f.app);
  EXPECT_TRUE(checksums_valid(reply.data(), back));
  EXPECT_FALSE(is_from_listener(back, l));
}

TEST(nat_shapes, reflection_rewrite_and_return_path) {
  listener_address l{nat_shape::reflection, 34010};
  auto syn = complete()[tcp_syn];
  auto info = parsed(syn);
  nat_flow f{info.src, info.dst, reflection_peer(info.src, info.dst)};
  EXPECT_EQ(f.listener_peer, ep("10.77.0.2", info.src.port));
  packet_ref out{syn.data(), info};
  EXPECT_EQ(to_listener(out, l, f), inject_direction::inbound);
  auto seen = parsed(syn);
  EXPECT_EQ(seen.src, ep("10.77.0.2", info.src.port));
  EXPECT_EQ(seen.dst, ep("10.77.0.1", 34010));
  EXPECT_TRUE(checksums_valid(syn.data(), seen));

  auto reply = complete()[tcp_ack];
  packet_ref r{reply.data(), parsed(reply)};
  set_source(r, {f.app.ip, l.port});
  set_destination(r, f.listener_peer);
  EXPECT_TRUE(is_from_listener(r.info, l));
  EXPECT_EQ(from_listener(r, l, f), inject_direction::inbound);
  auto back = parsed(reply);
  EXPECT_EQ(back.src, f.remote);
  EXPECT_EQ(back.dst, f.app);
  EXPECT_TRUE(checksums_valid(reply.data(), back));
}

// What the application's stack answers to a datagram for a closed port:
// an ICMP error quoting the datagram's header.
bytes port_unreachable(endpoint from, endpoint to, uint8_t type = 3,
                       uint8_t code = 3) {
  bytes refused(64);
  uint8_t hello[] = {'h', 'i'};
  auto n = build_ipv4_udp(refused.data(), refused.size(), from, to, hello,
                          sizeof hello, 7);
  bytes p(20 + 8 + n);
  p[0] = 0x45;
  store16(p.data() + 2, static_cast<uint16_t>(p.size()));
  p[8] = 64;
  p[9] = proto_icmp;
  store32(p.data() + 12, to.ip.value); // the closed port's host answers
  store32(p.data() + 16, from.ip.value);
  p[20] = type;
  p[21] = code;
  std::memcpy(p.data() + 28, refused.data(), n);
  return p;
}

TEST(packet_parse, a_port_unreachable_names_the_refused_datagram) {
  endpoint remote{*parse_ipv4("10.210.0.3"), 7};
  endpoint app{*parse_ipv4("10.210.0.1"), 49770};
  auto p = port_unreachable(remote, app);
  packet_info info;
  ASSERT_EQ(parse(p.data(), p.size(), info), parse_error::none);
  refused_datagram r;
  ASSERT_TRUE(parse_port_unreachable(p.data(), info, r));
  EXPECT_EQ(r.src, remote);
  EXPECT_EQ(r.dst, app);
  EXPECT_EQ(r.ip_id, 7) << "the refused datagram's identification";
  // Other ICMP messages, and quotes cut short, are not it.
  auto echo = port_unreachable(remote, app, 8, 0);
  ASSERT_EQ(parse(echo.data(), echo.size(), info), parse_error::none);
  EXPECT_FALSE(parse_port_unreachable(echo.data(), info, r));
  auto host = port_unreachable(remote, app, 3, 1);
  ASSERT_EQ(parse(host.data(), host.size(), info), parse_error::none);
  EXPECT_FALSE(parse_port_unreachable(host.data(), info, r));
  auto cut = port_unreachable(remote, app);
  cut.resize(20 + 8 + 20 + 4);
  store16(cut.data() + 2, static_cast<uint16_t>(cut.size()));
  ASSERT_EQ(parse(cut.data(), cut.size(), info), parse_error::none);
  EXPECT_FALSE(parse_port_unreachable(cut.data(), info, r));
}
