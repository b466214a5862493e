// Attribution for a port that sees every process's packets: the owners of
// local ports from socket events, the decision per packet, and the bounded
// queue of packets waiting for their owner.

#include <cstring>

#include <gtest/gtest.h>

#include "net/attribution.hpp"
#include "net/bytes.hpp"
#include "tests/support/pcap.hpp"

using namespace drover::net;
using namespace std::chrono_literals;

namespace {

const listener_address listener{nat_shape::loopback, 15001};

std::vector<uint8_t> syn_from(uint16_t port) {
  auto p = drover::test::fixtures("fixtures-complete.pcap")[0];
  packet_info info;
  parse(p.data(), p.size(), info);
  store16(p.data() + info.l4_offset, port);
  return p;
}

// The same SYN to another remote (address and port).
std::vector<uint8_t> to_remote(std::vector<uint8_t> p, uint32_t address,
                               uint16_t port) {
  packet_info info;
  parse(p.data(), p.size(), info);
  store32(p.data() + 16, address);
  store16(p.data() + info.l4_offset + 2, port);
  return p;
}

uint64_t remote_of(const std::vector<uint8_t>& p) {
  uint8_t protocol = 0;
  uint64_t remote = 0;
  source_port(p.data(), p.size(), protocol, remote);
  return remote;
}

disposition decide(const std::vector<uint8_t>& p, const port_owners& owners,
                   flow_time now, bool loopback = false) {
  return classify(p.data(), p.size(), loopback, listener, owners, now,
                  [](uint32_t pid) { return pid == 4242; })
      .what;
}

} // namespace

TEST(port_owners, a_port_is_its_last_openers_until_it_closes_and_lingers) {
  port_owners owners;
  flow_time t0{};
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0), 0u);
  owners.opened(proto_tcp, 50000, 4242);
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0), 4242u);
  EXPECT_EQ(owners.owner(proto_udp, 50000, t0), 0u) << "per protocol";
  owners.closed(proto_tcp, 50000, 4242, t0);
  // A closed socket's late packets (a FIN's retransmission) still belong.
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0 + 60s), 4242u);
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0 + port_owners::linger + 1s), 0u);
}

TEST(port_owners, a_close_of_an_older_socket_leaves_the_new_owner) {
  port_owners owners;
  flow_time t0{};
  owners.opened(proto_udp, 40000, 1);
  owners.opened(proto_udp, 40000, 2); // port reused by another process
  owners.closed(proto_udp, 40000, 1, t0);
  EXPECT_EQ(owners.owner(proto_udp, 40000, t0 + 1h), 2u);
  owners.opened(proto_udp, 0, 3); // no port: nothing to remember
  EXPECT_EQ(owners.owner(proto_udp, 0, t0), 0u);
}

// The System process (4) and PID 0 appear for sockets the kernel holds on
// an application's behalf: a known application owner wins over them.
TEST(port_owners, the_system_process_never_replaces_an_application) {
  port_owners owners;
  flow_time t0{};
  owners.opened(proto_tcp, 50000, 4242);
  owners.opened(proto_tcp, 50000, 4);
  owners.opened(proto_tcp, 50000, 0);
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0), 4242u);
  // Once the application's socket closed (and lingered), the port is free.
  owners.closed(proto_tcp, 50000, 4242, t0);
  owners.opened(proto_tcp, 50000, 4);
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0), 4u);
  owners.opened(proto_tcp, 50001, 4); // nobody else: the System's it is
  EXPECT_EQ(owners.owner(proto_tcp, 50001, t0), 4u);
}

// A table's row with PID 0 (a TIME_WAIT connection on Windows) names no
// process: the closed owner's late packets are still its own.
TEST(port_owners, pid_0_replaces_nobody) {
  port_owners owners;
  flow_time t0{};
  owners.opened(proto_tcp, 50000, 4242);
  owners.closed(proto_tcp, 50000, 4242, t0);
  owners.opened(proto_tcp, 50000, 0);
  EXPECT_EQ(owners.owner(proto_tcp, 50000, t0 + 1s), 4242u);
}

// Two processes' connections may share a local port when their remotes
// differ (Linux's connect() picks ports so, and wine with it; Windows with
// SO_REUSE_UNICASTPORT): each packet is its own socket's, whichever socket
// opened last, and a close leaves the other.
TEST(port_owners, two_processes_sharing_a_port_keep_their_own_sockets) {
  port_owners owners;
  flow_time t0{};
  auto to_target = to_remote(syn_from(39714), 0x0ad3'0003, 7000);
  auto to_proxy = to_remote(syn_from(39714), 0x0ad3'0002, 1080);
  ASSERT_NE(remote_of(to_target), remote_of(to_proxy));
  EXPECT_EQ(remote_of(to_target), remote_key_v4(0x0ad3'0003, 7000))
      << "a packet's remote is the SOCKET event's";
  owners.opened(proto_tcp, 39714, 4242, remote_of(to_target));
  owners.opened(proto_tcp, 39714, 32, remote_of(to_proxy)); // the engine
  EXPECT_EQ(decide(to_target, owners, t0), disposition::capture);
  EXPECT_EQ(decide(to_proxy, owners, t0), disposition::pass);
  EXPECT_EQ(owners.owner(proto_tcp, 39714, t0), 32u) << "no remote: the last";
  // The other way round too.
  owners.opened(proto_tcp, 39715, 32, remote_of(to_proxy));
  owners.opened(proto_tcp, 39715, 4242, remote_of(to_target));
  EXPECT_EQ(decide(syn_from(39715), owners, t0), disposition::capture)
      << "the fixture's own remote is neither: the last opener's";
  EXPECT_EQ(owners.owner(proto_tcp, 39715, t0, remote_of(to_proxy)), 32u);
  // The engine's socket closes: the target's stays; the closed one lingers.
  owners.closed(proto_tcp, 39714, 32, t0, remote_of(to_proxy));
  EXPECT_EQ(decide(to_target, owners, t0 + 1s), disposition::capture);
  EXPECT_EQ(owners.owner(proto_tcp, 39714, t0 + 1s, remote_of(to_proxy)), 32u);
  EXPECT_EQ(owners.owner(proto_tcp, 39714, t0 + port_owners::linger + 2s,
                         remote_of(to_proxy)),
            0u);
  // Both gone and the port bound anew: its new owner's alone.
  owners.closed(proto_tcp, 39714, 4242, t0, remote_of(to_target));
  owners.opened(proto_tcp, 39714, 777);
  EXPECT_EQ(decide(to_target, owners, t0 + 1s), disposition::pass);
}

// A port the OS's tables name nobody for: its packets pass at once for a
// moment instead of each waiting for an owner; a socket event still wins.
TEST(port_owners, nobody_is_remembered_briefly) {
  port_owners owners;
  flow_time t0{};
  owners.unowned(proto_udp, 40000, t0);
  EXPECT_EQ(owners.owner(proto_udp, 40000, t0), port_owners::nobody);
  EXPECT_EQ(decide(syn_from(40000), owners, t0), disposition::hold)
      << "TCP port 40000 is another port";
  EXPECT_EQ(owners.owner(proto_udp, 40000, t0 + port_owners::nobody_for), 0u)
      << "asked again after a moment";
  owners.unowned(proto_tcp, 40001, t0);
  EXPECT_EQ(decide(syn_from(40001), owners, t0), disposition::pass);
  owners.opened(proto_tcp, 40001, 4242);
  EXPECT_EQ(decide(syn_from(40001), owners, t0), disposition::capture);
  owners.unowned(proto_tcp, 40001, t0);
  EXPECT_EQ(owners.owner(proto_tcp, 40001, t0), 4242u) << "an owner stays";
}

// A socket its program closed, whose owner this session never saw (a
// capture restart forgets who had it): the OS's tables name nobody. What
// it still sends (its data's and its FIN's retransmissions) may be a
// target's, so it never goes out; a new connection's SYN from such a port
// passes, as before, and so does a segment whose owner is known.
TEST(attribution, a_closed_sockets_segments_nobody_owns_never_go_out) {
  port_owners owners;
  flow_time t0{};
  auto syn = syn_from(40002);
  auto segment = syn;
  packet_info info;
  ASSERT_EQ(parse(segment.data(), segment.size(), info), parse_error::none);
  segment[info.l4_offset + 13] = tcp_flag::ack | 0x08; // PSH
  EXPECT_TRUE(mid_connection(segment.data(), segment.size()));
  EXPECT_FALSE(mid_connection(syn.data(), syn.size()));
  EXPECT_EQ(decide(segment, owners, t0), disposition::hold) << "not known yet";
  owners.unowned(proto_tcp, 40002, t0);
  EXPECT_EQ(decide(segment, owners, t0), disposition::drop);
  EXPECT_EQ(decide(syn, owners, t0), disposition::pass);
  owners.opened(proto_tcp, 40002, 777);
  EXPECT_EQ(decide(segment, owners, t0), disposition::pass) << "its owner's";
  // A datagram nobody owns passes: UDP leaves no closed socket sending.
  owners.unowned(proto_udp, 40003, t0);
  auto datagram = drover::test::fixtures("fixtures-complete.pcap")[5];
  ASSERT_EQ(parse(datagram.data(), datagram.size(), info), parse_error::none);
  ASSERT_TRUE(info.is_udp());
  store16(datagram.data() + info.l4_offset, 40003);
  EXPECT_FALSE(mid_connection(datagram.data(), datagram.size()));
  EXPECT_EQ(decide(datagram, owners, t0), disposition::pass);
}

// A target's socket outlives its place among the targets: its program
// exits (procscan forgets the process) or a rule changes while the socket
// still sends (a retransmission, its FIN, a window probe). Its connection
// went through the proxy, so those segments go to the engine, never out
// direct. Another socket on the port, later, starts afresh.
TEST(attribution, a_targets_socket_stays_captured_when_its_process_is_not) {
  port_owners owners;
  flow_time t0{};
  auto segment = syn_from(40040);
  packet_info info;
  ASSERT_EQ(parse(segment.data(), segment.size(), info), parse_error::none);
  segment[info.l4_offset + 13] = tcp_flag::ack | 0x08; // PSH
  auto remote = remote_of(segment);
  owners.opened(proto_tcp, 40040, 5151, remote);
  auto its_target_no_more = [](uint32_t) {
    return false;
  };
  auto decide_now = [&](const std::vector<uint8_t>& p, flow_time now) {
    return classify(p.data(), p.size(), false, listener, owners, now,
                    its_target_no_more)
        .what;
  };
  EXPECT_EQ(decide_now(segment, t0), disposition::pass) << "never captured";
  owners.captured(proto_tcp, 40040, remote);
  EXPECT_TRUE(owners.was_captured(proto_tcp, 40040, remote));
  // The same socket's connect after its bind keeps the mark.
  owners.opened(proto_tcp, 40040, 5151, remote);
  owners.closed(proto_tcp, 40040, 5151, t0, remote);
  EXPECT_EQ(decide_now(segment, t0 + 1s), disposition::capture)
      << "a closed target's segment went out direct";
  // The System process holding the closed socket's connection keeps it.
  owners.opened(proto_tcp, 40040, 4, remote);
  EXPECT_EQ(decide_now(segment, t0 + 2s), disposition::capture);
  // A copy of the table (a capture restart hands it over) keeps the mark.
  port_owners next = owners;
  auto handed_over = classify(segment.data(), segment.size(), false, listener,
                              next, t0 + 3s, its_target_no_more);
  EXPECT_EQ(handed_over.what, disposition::capture);
  EXPECT_TRUE(handed_over.former_target);
  EXPECT_EQ(handed_over.owner, 4u) << "the System process holds it";
  // Another program's socket on the port: its own.
  owners.closed(proto_tcp, 40040, 4, t0 + 3s, remote);
  owners.opened(proto_tcp, 40040, 777, remote);
  EXPECT_FALSE(owners.was_captured(proto_tcp, 40040, remote));
  EXPECT_EQ(decide_now(segment, t0 + 4s), disposition::pass);
  // Two processes sharing a port: the mark is the captured socket's alone,
  // whoever opened last.
  auto to_proxy = to_remote(segment, 0x0ad3'0002, 1080);
  owners.opened(proto_tcp, 40041, 5151, remote);
  owners.captured(proto_tcp, 40041, remote);
  owners.opened(proto_tcp, 40041, 32, remote_of(to_proxy));
  store16(segment.data() + info.l4_offset, 40041);
  store16(to_proxy.data() + info.l4_offset, 40041);
  EXPECT_EQ(decide_now(segment, t0), disposition::capture);
  EXPECT_EQ(decide_now(to_proxy, t0), disposition::pass);
}

// A port whose first packets found no owner, even in the OS's tables: at
// its first try they are dropped (a target's late socket event may name it
// by the sender's next try), and for unowned_retry after, so a burst of it
// goes together; a later try lets them out as nobody's. Long after, a
// first try counts again; a socket event starts the port afresh.
TEST(port_owners, a_ports_first_unowned_try_is_held_back) {
  port_owners owners;
  flow_time t0{};
  EXPECT_TRUE(owners.hold_back_unowned(proto_tcp, 40050, t0));
  EXPECT_TRUE(owners.hold_back_unowned(proto_tcp, 40050, t0 + 100ms))
      << "the same burst";
  EXPECT_FALSE(owners.hold_back_unowned(proto_tcp, 40050,
                                        t0 + port_owners::unowned_retry));
  EXPECT_TRUE(owners.hold_back_unowned(proto_udp, 40050, t0)) << "per protocol";
  auto later = t0 + port_owners::unowned_forgotten;
  EXPECT_TRUE(owners.hold_back_unowned(proto_tcp, 40050, later));
  EXPECT_FALSE(owners.hold_back_unowned(proto_tcp, 40050, later + 1s));
  owners.opened(proto_tcp, 40050, 0); // a table's row naming no process
  EXPECT_FALSE(owners.hold_back_unowned(proto_tcp, 40050, later + 1500ms))
      << "a row without an owner must not make every try a first one";
  owners.opened(proto_tcp, 40050, 777);
  EXPECT_TRUE(owners.hold_back_unowned(proto_tcp, 40050, later + 2s))
      << "an owner seen since: its port starts afresh";
  EXPECT_FALSE(owners.hold_back_unowned(proto_tcp, 0, t0)) << "no port";
}

TEST(attribution, targets_are_captured_others_passed_unknowns_held) {
  port_owners owners;
  flow_time now{};
  owners.opened(proto_tcp, 50001, 4242);
  owners.opened(proto_tcp, 50002, 777);
  EXPECT_EQ(decide(syn_from(50001), owners, now), disposition::capture);
  EXPECT_EQ(decide(syn_from(50002), owners, now), disposition::pass);
  EXPECT_EQ(decide(syn_from(50003), owners, now), disposition::hold);
  // What it read on the way, so the port reads neither again.
  auto p = syn_from(50001);
  auto c = classify(p.data(), p.size(), false, listener, owners, now,
                    [](uint32_t pid) { return pid == 4242; });
  EXPECT_EQ(c.owner, 4242u);
  EXPECT_FALSE(c.former_target);
  EXPECT_EQ(c.from.protocol, proto_tcp);
  EXPECT_EQ(c.from.port, 50001);
  EXPECT_EQ(c.from.remote, remote_of(p));
  EXPECT_NE(c.from.remote, 0u);
  auto other = syn_from(50002);
  EXPECT_EQ(classify(other.data(), other.size(), false, listener, owners, now,
                     [](uint32_t) { return false; })
                .owner,
            777u)
      << "another program's owner is named too (the fence needs it)";
}

TEST(attribution, loopback_is_captured_only_from_the_listener) {
  port_owners owners;
  flow_time now{};
  EXPECT_EQ(decide(syn_from(15001), owners, now, true), disposition::capture);
  EXPECT_EQ(decide(syn_from(15002), owners, now, true), disposition::pass);
}

TEST(attribution, source_ports_of_both_ip_versions_and_none_for_fragments) {
  uint8_t protocol = 0;
  auto p = syn_from(50001);
  EXPECT_EQ(source_port(p.data(), p.size(), protocol), 50001);
  EXPECT_EQ(protocol, proto_tcp);
  std::vector<uint8_t> v6(60, 0);
  v6[0] = 0x60;
  v6[5] = 20; // payload length
  v6[6] = proto_udp;
  store16(v6.data() + 40, 5353);
  EXPECT_EQ(source_port(v6.data(), v6.size(), protocol), 5353);
  EXPECT_EQ(protocol, proto_udp);
  store16(p.data() + 6, 0x0010); // a later fragment: no transport header
  EXPECT_EQ(source_port(p.data(), p.size(), protocol), 0);
  EXPECT_EQ(source_port(p.data(), 10, protocol), 0) << "truncated";
}

namespace {

// An IPv6 UDP datagram from port 5353 behind the given extension headers
// (each: its type and its bytes, the next-header byte filled in here).
std::vector<uint8_t>
udp6_behind(std::vector<std::pair<uint8_t, std::vector<uint8_t>>> chain) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x60;
  p[6] = chain.empty() ? proto_udp : chain[0].first;
  std::fill(p.begin() + 24, p.end(), 0x20); // the destination
  for (size_t i = 0; i < chain.size(); ++i) {
    auto h = chain[i].second;
    h[0] = i + 1 < chain.size() ? chain[i + 1].first : proto_udp;
    p.insert(p.end(), h.begin(), h.end());
  }
  std::vector<uint8_t> udp(12, 0);
  store16(udp.data(), 5353);
  store16(udp.data() + 2, 53);
  p.insert(p.end(), udp.begin(), udp.end());
  store16(p.data() + 4, static_cast<uint16_t>(p.size() - 40));
  return p;
}

} // namespace

TEST(attribution, ipv6_ports_are_found_behind_extension_headers) {
  uint8_t protocol = 0;
  uint64_t remote = 0;
  auto plain = udp6_behind({});
  ASSERT_EQ(source_port(plain.data(), plain.size(), protocol, remote), 5353);
  auto plain_remote = remote;
  // Hop-by-hop (8 bytes), destination options (16), authentication
  // (12: its length counts 4-byte words less two), routing, mobility, a
  // first fragment.
  std::vector<uint8_t> hop(8, 0), dest(16, 0), auth(12, 0), frag(8, 0);
  dest[1] = 1;
  auth[1] = 1;
  auto p = udp6_behind(
      {{0, hop}, {60, dest}, {51, auth}, {43, hop}, {135, hop}, {44, frag}});
  EXPECT_EQ(source_port(p.data(), p.size(), protocol, remote), 5353);
  EXPECT_EQ(protocol, proto_udp);
  EXPECT_EQ(remote, plain_remote) << "the same socket's remote";

  frag[3] = 0x08; // offset 1 (8 bytes): a later fragment, no UDP header
  p = udp6_behind({{44, frag}});
  EXPECT_EQ(source_port(p.data(), p.size(), protocol), 0);
  p = udp6_behind({{0, hop}});
  EXPECT_EQ(source_port(p.data(), 40 + 8 + 2, protocol), 0) << "truncated";
  // Only as many headers as the packet holds bound the walk (the driver's).
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> long_chain(20,
                                                                   {60, hop});
  p = udp6_behind(long_chain);
  EXPECT_EQ(source_port(p.data(), p.size(), protocol), 5353);
  frag[3] = 0;
  p = udp6_behind({{44, frag}, {44, frag}});
  EXPECT_EQ(source_port(p.data(), p.size(), protocol), 0)
      << "a second fragment header is not stepped over (the driver's rule)";

  // What the walk is for: a target's datagram behind a header is its own.
  port_owners owners;
  owners.opened(proto_udp, 5353, 4242);
  p = udp6_behind({{0, hop}});
  EXPECT_EQ(decide(p, owners, flow_time{}), disposition::capture);
}

TEST(held_packets, bounded_in_order_and_released_on_demand) {
  held_packets held{2, 4};
  flow_time t0{};
  uint8_t meta[4] = {1, 2, 3, 4};
  auto a = syn_from(1), b = syn_from(2), c = syn_from(3);
  ASSERT_TRUE(held.hold(proto_tcp, 1, a.data(), static_cast<uint32_t>(a.size()),
                        meta, t0 + 2s));
  ASSERT_TRUE(held.hold(proto_tcp, 2, b.data(), static_cast<uint32_t>(b.size()),
                        meta, t0 + 1s));
  EXPECT_FALSE(held.hold(proto_tcp, 3, c.data(),
                         static_cast<uint32_t>(c.size()), meta, t0))
      << "full";
  EXPECT_EQ(held.next_deadline(), t0 + 1s);
  std::vector<uint16_t> seen;
  auto released = held.release_if([&](const held_packets::held& h) {
    seen.push_back(h.port);
    EXPECT_EQ(std::vector<uint8_t>(held.data(h), held.data(h) + h.length),
              h.port == 1 ? a : b);
    EXPECT_EQ(std::memcmp(held.meta(h), meta, 4), 0);
    return h.port == 2;
  });
  EXPECT_EQ(released, 1u);
  EXPECT_EQ(seen, (std::vector<uint16_t>{1, 2})) << "oldest first";
  EXPECT_EQ(held.size(), 1u);
  ASSERT_TRUE(held.hold(proto_tcp, 3, c.data(), static_cast<uint32_t>(c.size()),
                        meta, t0))
      << "a released slot is reused";
  std::vector<uint8_t> jumbo(held_packets::slot_bytes + 1, 0x45);
  EXPECT_FALSE(held.hold(proto_tcp, 4, jumbo.data(),
                         static_cast<uint32_t>(jumbo.size()), meta, t0));
}
