// The flow-manager actor on CAF's deterministic test coordinator, with a
// fake capture session standing in for NFQUEUE: packets go in as batches,
// verdicts are recorded, time only moves when the test moves it.

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/flow_manager.hpp"
#include "net/bytes.hpp"
#include "tests/support/caf_test.hpp"
#include "tests/support/fake_capture.hpp"
#include "tests/support/ipv6_segment.hpp"
#include "tests/support/pcap.hpp"

using namespace drover;
using namespace std::chrono_literals;
using platform::verdict_kind;
using test::fake_capture;
using test::recorded_verdict;

namespace {

net::endpoint ep(const char* ip, uint16_t port) {
  return {*net::parse_ipv4(ip), port};
}

class flow_manager_test : public test::caf_fixture {
protected:
  flow_manager_test() : capture(std::make_shared<fake_capture>()) {
    flow_manager_config fc;
    fc.listener = {net::nat_shape::loopback, 15001};
    fc.table.max_flows = 64;
    aut = sys.spawn(flow_manager, capture.get(), fc);
    sched.run();
  }

  ~flow_manager_test() override {
    self->send_exit(aut, caf::exit_reason::user_shutdown);
    sched.run();
  }

  // Sends one captured packet through the actor and returns its verdict.
  recorded_verdict feed(std::vector<uint8_t> packet, bool partial = false,
                        uint32_t pid = 0, bool blocked = false) {
    auto batch = capture->port_.new_batch();
    std::copy(packet.begin(), packet.end(), batch->data.begin());
    captured_packet p;
    p.id = ++next_id;
    p.length = static_cast<uint32_t>(packet.size());
    p.checksum_partial = partial;
    p.pid = pid;
    p.blocked = blocked;
    batch->packets.push_back(p);
    self->send(aut, packet_batch{batch});
    sched.run();
    auto& v = capture->port_.verdicts;
    EXPECT_FALSE(v.empty());
    return v.empty() ? recorded_verdict{} : v.back();
  }

  net::packet_info parsed(const std::vector<uint8_t>& p) {
    net::packet_info info;
    EXPECT_EQ(net::parse(p.data(), p.size(), info), net::parse_error::none);
    return info;
  }

  flow_lookup lookup(net::endpoint peer) {
    return ask<flow_lookup>(aut, atom::get_v, peer);
  }

  stats_snapshot stats() {
    return ask<stats_snapshot>(aut, atom::get_v, atom::stats_v);
  }

  std::shared_ptr<fake_capture> capture;
  flow_manager_actor aut;
  uint32_t next_id = 0;
};

// Ends when told to stop, as a socks-session does.
caf::behavior stand_in_session(caf::event_based_actor* self) {
  return {[=](atom::stop) {
    self->quit();
  }};
}

std::vector<std::vector<uint8_t>> fixtures() {
  return drover::test::fixtures("fixtures-complete.pcap");
}

} // namespace

TEST_F(flow_manager_test, a_syn_is_redirected_and_the_listener_finds_its_flow) {
  auto syn = fixtures()[0];
  auto v = feed(syn);
  ASSERT_EQ(v.kind, verdict_kind::accept_modified);
  auto out = parsed(v.packet);
  EXPECT_EQ(out.dst, ep("127.0.0.1", 15001));
  EXPECT_EQ(out.src.ip, *net::parse_ipv4("127.0.0.1"));
  EXPECT_TRUE(net::checksums_valid(v.packet.data(), out));
  auto flow = lookup(out.src);
  ASSERT_TRUE(flow.found);
  EXPECT_EQ(flow.remote, ep("10.77.0.2", 8080));
  EXPECT_EQ(flow.app, parsed(syn).src);
  EXPECT_EQ(stats().tcp_flows, 1u);
}

// Fail closed while the proxy cannot be used: a new connection is reset at
// once (the reset comes from the remote's address, as a closed port's
// would), UDP is dropped without an answer (for moments: a voice client
// that keeps sending resumes when the proxy is back), nothing is
// redirected or let out.
TEST_F(flow_manager_test, while_not_proxying_syns_are_reset_and_udp_dropped) {
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::refuse));
  sched.run();
  auto syn = fixtures()[0];
  EXPECT_EQ(feed(syn).kind, verdict_kind::drop);
  ASSERT_EQ(capture->injector_.injected.size(), 1u);
  auto rst = parsed(capture->injector_.injected[0]);
  EXPECT_EQ(rst.src, parsed(syn).dst);
  EXPECT_EQ(rst.dst, parsed(syn).src);
  EXPECT_EQ(rst.tcp_flags, net::tcp_flag::rst | net::tcp_flag::ack);
  auto udp = fixtures()[5];
  EXPECT_EQ(feed(udp).kind, verdict_kind::drop);
  EXPECT_EQ(capture->injector_.injected.size(), 1u) << "no answer for UDP";
  EXPECT_EQ(stats().tcp_flows, 0u);
  EXPECT_EQ(stats().udp_flows, 0u);
  EXPECT_EQ(stats().packets_dropped, 2u);
  // Proxying again: the same SYN is redirected.
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::proxy));
  sched.run();
  EXPECT_EQ(feed(syn).kind, verdict_kind::accept_modified);
}

TEST_F(flow_manager_test, the_listeners_reply_goes_back_as_the_remote) {
  auto syn = fixtures()[0];
  auto peer = parsed(feed(syn).packet).src;
  // The listener's SYN-ACK to the peer it saw.
  auto reply = fixtures()[1];
  net::packet_ref r{reply.data(), parsed(reply)};
  net::set_source(r, ep("127.0.0.1", 15001));
  net::set_destination(r, peer);
  auto v = feed(reply);
  ASSERT_EQ(v.kind, verdict_kind::accept_modified);
  auto back = parsed(v.packet);
  EXPECT_EQ(back.src, ep("10.77.0.2", 8080));
  EXPECT_EQ(back.dst, parsed(syn).src);
  EXPECT_TRUE(net::checksums_valid(v.packet.data(), back));
}

TEST_F(flow_manager_test, partial_checksums_are_finished_after_rewriting) {
  auto syn = drover::test::fixtures("fixtures-partial.pcap")[0];
  auto v = feed(syn, true);
  ASSERT_EQ(v.kind, verdict_kind::accept_modified);
  EXPECT_TRUE(net::checksums_valid(v.packet.data(), parsed(v.packet)))
      << "the kernel treats a mangled packet's checksum as complete";
}

// A connection Drover never saw begin (the process was not a target yet,
// or the flow expired): its packets cannot be proxied and must not leak;
// the application hears a reset at once, so it connects again, proxied.
TEST_F(flow_manager_test, a_mid_connection_packet_without_a_flow_is_reset) {
  auto ack = fixtures()[1];
  auto in = parsed(ack);
  ASSERT_NE(in.tcp_flags & net::tcp_flag::ack, 0);
  EXPECT_EQ(feed(ack).kind, verdict_kind::drop);
  ASSERT_EQ(capture->injector_.injected.size(), 1u);
  auto& rst = capture->injector_.injected[0];
  auto out = parsed(rst);
  EXPECT_EQ(out.src, in.dst);
  EXPECT_EQ(out.dst, in.src);
  EXPECT_EQ(out.tcp_flags, net::tcp_flag::rst);
  EXPECT_EQ(net::load32(rst.data() + out.l4_offset + 4),
            net::load32(ack.data() + in.l4_offset + 8))
      << "the reset's sequence number is the segment's acknowledgement";
  EXPECT_EQ(stats().packets_dropped, 1u);
  EXPECT_EQ(stats().connections_reset, 1u);
}

// Asleep: everything is dropped, nothing answered.
TEST_F(flow_manager_test, while_paused_everything_is_dropped_silently) {
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::drop));
  sched.run();
  EXPECT_EQ(feed(fixtures()[0]).kind, verdict_kind::drop);
  EXPECT_EQ(feed(fixtures()[1]).kind, verdict_kind::drop);
  EXPECT_EQ(feed(fixtures()[5]).kind, verdict_kind::drop);
  EXPECT_TRUE(capture->injector_.injected.empty());
  EXPECT_EQ(stats().tcp_flows, 0u);
}

// `when_not_proxying = "direct"`: a connection begun while the proxy is
// down goes direct for its whole life (marked so the kernel fence lets it
// through); UDP goes direct only while the proxy is down.
TEST_F(flow_manager_test, the_direct_policy_lets_new_flows_out_for_life) {
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::direct));
  sched.run();
  auto syn = fixtures()[0];
  EXPECT_EQ(feed(syn).kind, verdict_kind::pass);
  auto data = fixtures()[2];
  net::packet_ref d{data.data(), parsed(data)};
  net::set_source(d, parsed(syn).src);
  net::set_destination(d, parsed(syn).dst);
  EXPECT_EQ(feed(fixtures()[5]).kind, verdict_kind::pass) << "UDP";
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::proxy));
  sched.run();
  EXPECT_EQ(feed(data).kind, verdict_kind::pass)
      << "the direct connection stays direct";
  EXPECT_TRUE(capture->injector_.injected.empty());
}

// A TCP-only proxy: the targets' connections are redirected to it, their
// datagrams follow the fallback (refused at once with a port unreachable
// from the remote, as that lasts as long as the proxy does; or let out
// direct), never sent to an association the proxy would refuse.
TEST_F(flow_manager_test,
       a_tcp_only_proxy_carries_tcp_and_udp_follows_the_fallback) {
  self->send(aut, atom::update_v,
             flow_policy{new_flow_policy::proxy, new_flow_policy::refuse});
  sched.run();
  EXPECT_EQ(feed(fixtures()[0]).kind, verdict_kind::accept_modified) << "TCP";
  EXPECT_EQ(feed(fixtures()[5]).kind, verdict_kind::drop) << "UDP";
  EXPECT_EQ(stats().tcp_flows, 1u);
  EXPECT_EQ(stats().udp_flows, 0u);
  ASSERT_EQ(capture->injector_.injected.size(), 1u);
  EXPECT_EQ(parsed(capture->injector_.injected[0]).protocol, net::proto_icmp)
      << "a port unreachable, no reset, for UDP";
  self->send(aut, atom::update_v,
             flow_policy{new_flow_policy::proxy, new_flow_policy::direct});
  sched.run();
  EXPECT_EQ(feed(fixtures()[5]).kind, verdict_kind::pass) << "UDP direct";
  EXPECT_EQ(stats().udp_flows, 0u);
}

TEST_F(flow_manager_test, reset_ends_every_flow) {
  auto peer = parsed(feed(fixtures()[0]).packet).src;
  ASSERT_EQ(stats().tcp_flows, 1u);
  uint32_t ended = 0;
  auto pending = self->request(aut, caf::infinite, atom::reset_v);
  sched.run();
  pending.receive([&](uint32_t n) { ended = n; },
                  [](const caf::error&) { ADD_FAILURE() << "no answer"; });
  EXPECT_EQ(ended, 1u);
  EXPECT_EQ(stats().tcp_flows, 0u);
  EXPECT_FALSE(lookup(peer).found);
}

// A flow that leaves the table takes its socks-session (and its four
// descriptors) with it, so max_flows bounds descriptors and an alias is
// never reused while an old session holds it.
TEST_F(flow_manager_test, an_evicted_or_expired_flow_ends_its_session) {
  auto first = feed(fixtures()[0]);
  auto flow = lookup(parsed(first.packet).src);
  ASSERT_TRUE(flow.found);
  auto session = sys.spawn(stand_in_session);
  self->monitor(session);
  self->send(aut, atom::add_v, flow, session);
  sched.run();
  // 64 more connections (other source ports): the cap evicts the first.
  auto syn = fixtures()[0];
  auto info = parsed(syn);
  for (uint16_t i = 1; i <= 64; ++i) {
    auto other = syn;
    net::packet_ref r{other.data(), info};
    net::set_source(r, {info.src.ip, static_cast<uint16_t>(info.src.port + i)});
    net::recompute_checksums(other.data(), r.info);
    feed(other);
  }
  EXPECT_GE(stats().flows_evicted, 1u);
  bool ended = false;
  self->receive([&](const caf::down_msg& dm) { ended = dm.source == session; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  EXPECT_TRUE(ended) << "the evicted flow's session was stopped";

  // Expiry: a flow idle past tcp_idle_timeout (30 min) goes with its session.
  auto next = lookup(parsed(capture->port_.verdicts.back().packet).src);
  ASSERT_TRUE(next.found);
  auto idle = sys.spawn(stand_in_session);
  self->monitor(idle);
  self->send(aut, atom::add_v, next, idle);
  sched.run();
  for (int i = 0; i < 16; ++i) {
    sched.advance_time(2min);
    sched.run();
  }
  ended = false;
  self->receive([&](const caf::down_msg& dm) { ended = dm.source == idle; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  EXPECT_TRUE(ended) << "the expired flow's session was stopped";
  EXPECT_FALSE(lookup(next.app).found);
}

TEST_F(flow_manager_test, a_fragmented_syn_is_dropped_not_redirected) {
  auto syn = fixtures()[0];
  syn[6] |= 0x20; // more fragments: the first fragment of a larger segment
  auto info = parsed(syn);
  ASSERT_TRUE(info.fragment && info.is_tcp());
  net::recompute_checksums(syn.data(), info); // dropped for being a fragment
  ASSERT_TRUE(net::checksums_valid(syn.data(), info));
  EXPECT_EQ(feed(syn).kind, verdict_kind::drop);
  EXPECT_EQ(stats().tcp_flows, 0u);
  EXPECT_EQ(stats().packets_dropped, 1u);
}

// A target's IPv6 datagram is dropped and answered with a port unreachable
// from its remote, so the application's socket fails at once and it uses
// IPv4 (Linux refuses the send itself); at most 100 answers a second.
TEST_F(flow_manager_test, ipv6_datagrams_are_dropped_counted_and_refused) {
  auto udp = fixtures()[9]; // a copy: fixtures() returns a temporary
  ASSERT_EQ(parsed(udp).protocol, net::proto_udp);
  EXPECT_EQ(feed(udp).kind, verdict_kind::drop);
  EXPECT_EQ(stats().ipv6_dropped, 1u);
  ASSERT_EQ(capture->injector_.injected.size(), 1u);
  const auto& answer = capture->injector_.injected[0];
  ASSERT_EQ(answer.size(), 48 + udp.size());
  EXPECT_EQ(answer[6], net::proto_icmpv6);
  EXPECT_EQ(answer[40], 1);
  EXPECT_EQ(answer[41], 4);
  EXPECT_TRUE(
      std::equal(answer.begin() + 24, answer.begin() + 40, udp.begin() + 8))
      << "to the application";
  // A program that keeps sending: answered 100 times a second, all dropped.
  for (int i = 0; i < 150; ++i)
    EXPECT_EQ(feed(udp).kind, verdict_kind::drop);
  EXPECT_EQ(stats().ipv6_dropped, 151u);
  EXPECT_EQ(capture->injector_.injected.size(), 100u);
  advance(1s);
  EXPECT_EQ(feed(udp).kind, verdict_kind::drop);
  EXPECT_EQ(capture->injector_.injected.size(), 101u) << "a new second";
}

// A blocked program's datagram meets a port unreachable from its remote
// (its socket fails at once, as its send does on Linux); its connection
// attempt a reset. Nothing of either goes out, proxying or not.
TEST_F(flow_manager_test, a_blocked_programs_datagram_is_refused) {
  auto udp = fixtures()[5]; // IPv4 UDP, whole
  auto info = parsed(udp);
  ASSERT_TRUE(info.is_udp() && !info.fragment);
  EXPECT_EQ(feed(udp, false, 42, true).kind, verdict_kind::drop);
  ASSERT_EQ(capture->injector_.injected.size(), 1u);
  auto answer = capture->injector_.injected[0];
  auto out = parsed(answer);
  EXPECT_EQ(out.protocol, net::proto_icmp);
  net::refused_datagram refused;
  ASSERT_TRUE(net::parse_port_unreachable(answer.data(), out, refused));
  EXPECT_EQ(refused.src, info.src) << "quotes the datagram";
  EXPECT_EQ(refused.dst, info.dst);
  EXPECT_EQ(out.dst.ip, info.src.ip) << "to the program";
  EXPECT_EQ(out.src.ip, info.dst.ip) << "from the remote it sent to";
  EXPECT_EQ(stats().udp_flows, 0u);
  EXPECT_EQ(stats().packets_dropped, 1u);
  auto syn = fixtures()[0];
  EXPECT_EQ(feed(syn, false, 42, true).kind, verdict_kind::drop);
  ASSERT_EQ(capture->injector_.injected.size(), 2u);
  EXPECT_EQ(parsed(capture->injector_.injected[1]).protocol, net::proto_tcp);
  EXPECT_EQ(stats().tcp_flows, 0u);
}

// A target's IPv6 connection is refused at once (a reset from the remote's
// address), so the application tries IPv4 without waiting for its Happy
// Eyeballs timer (about 300 ms in Chromium, hence Discord); nothing of it
// goes out, proxying or not.
TEST_F(flow_manager_test, an_ipv6_connection_is_refused_at_once) {
  using test::ula;
  auto syn = test::ipv6_tcp_segment(ula(1), 40010, ula(3), 443,
                                    net::tcp_flag::syn, 1000, 0);
  EXPECT_EQ(feed(syn).kind, verdict_kind::drop);
  ASSERT_EQ(capture->injector_.injected.size(), 1u);
  auto rst = capture->injector_.injected[0];
  ASSERT_EQ(rst.size(), 60u);
  EXPECT_EQ(rst[0] >> 4, 6);
  EXPECT_TRUE(std::equal(rst.begin() + 8, rst.begin() + 24, syn.begin() + 24))
      << "from the remote the application dialled";
  EXPECT_EQ(rst[53], net::tcp_flag::rst | net::tcp_flag::ack);
  EXPECT_EQ(stats().ipv6_dropped, 1u);
  EXPECT_EQ(stats().tcp_flows, 0u);
  // The same while the proxy cannot be used.
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::refuse));
  sched.run();
  EXPECT_EQ(feed(syn).kind, verdict_kind::drop);
  EXPECT_EQ(capture->injector_.injected.size(), 2u);
  EXPECT_EQ(stats().ipv6_dropped, 2u);
}

TEST_F(flow_manager_test, malformed_packets_are_dropped) {
  std::vector<uint8_t> junk(40, 0x45);
  EXPECT_EQ(feed(junk).kind, verdict_kind::drop);
  EXPECT_EQ(stats().packets_dropped, 1u);
}

TEST_F(flow_manager_test, unknown_listener_peers_are_refused_and_counted) {
  auto flow = lookup(ep("127.0.0.1", 40000));
  EXPECT_FALSE(flow.found);
  EXPECT_EQ(stats().refused_listener, 1u);
  // The listener's own packets to such a peer pass unchanged, so it can
  // close that connection at once.
  auto reply = fixtures()[1];
  net::packet_ref r{reply.data(), parsed(reply)};
  net::set_source(r, ep("127.0.0.1", 15001));
  net::set_destination(r, ep("127.0.0.1", 40000));
  EXPECT_EQ(feed(reply).kind, verdict_kind::accept);
}

TEST_F(flow_manager_test, a_closed_flow_lingers_then_is_swept) {
  auto peer = parsed(feed(fixtures()[0]).packet).src;
  auto flow = lookup(peer);
  ASSERT_TRUE(flow.found);
  self->send(aut, atom::closed_v, flow);
  sched.run();
  EXPECT_TRUE(lookup(peer).found) << "still there for the last FIN/ACKs";
  // The sweep timer runs every 2 s; a closing flow goes after 5 s.
  for (int i = 0; i < 4; ++i) {
    sched.advance_time(2s);
    sched.run();
  }
  EXPECT_FALSE(lookup(peer).found);
  EXPECT_EQ(stats().tcp_flows, 0u);
}

TEST_F(flow_manager_test, packets_too_large_for_a_verdict_go_out_split) {
  // A 65,535-byte TCP segment (GSO sizes reach it; a verdict carries at
  // most 65,531) with a real header.
  auto syn = fixtures()[0];
  feed(syn);                 // the flow exists
  auto data = fixtures()[2]; // a data segment of the same connection shape
  auto head = parsed(data);
  std::vector<uint8_t> big(65535, 0);
  std::copy(data.begin(), data.begin() + head.payload_offset, big.begin());
  for (size_t i = head.payload_offset; i < big.size(); ++i)
    big[i] = static_cast<uint8_t>(i * 7);
  net::store16(big.data() + 2, 65535);
  // Same 4-tuple as the SYN, so it belongs to the flow.
  net::packet_ref r{big.data(), parsed(big)};
  net::set_source(r, parsed(syn).src);
  net::set_destination(r, parsed(syn).dst);
  net::recompute_checksums(big.data(), r.info);
  auto seq = net::load32(big.data() + r.info.l4_offset + 4);
  EXPECT_EQ(feed(big).kind, verdict_kind::drop) << "delivered as pieces";
  auto& pieces = capture->injector_.injected;
  ASSERT_GE(pieces.size(), 2u);
  size_t carried = 0;
  for (auto& p : pieces) {
    auto info = parsed(p);
    EXPECT_LE(info.total_length, flow_manager_state::max_verdict_packet);
    EXPECT_TRUE(net::checksums_valid(p.data(), info));
    EXPECT_EQ(info.dst, ep("127.0.0.1", 15001));
    EXPECT_EQ(net::load32(p.data() + info.l4_offset + 4),
              seq + static_cast<uint32_t>(carried));
    EXPECT_TRUE(std::equal(p.begin() + info.payload_offset, p.end(),
                           big.begin() + r.info.payload_offset
                               + static_cast<long>(carried)));
    carried += info.payload_length;
  }
  EXPECT_EQ(carried, r.info.payload_length);
}

// The process the port saw send a flow's first packet (Windows' SOCKET
// layer) stays with the flow, for the Flows view.
TEST_F(flow_manager_test, a_flow_keeps_the_process_that_opened_it) {
  feed(fixtures()[0], false, 4242);
  auto flows
      = ask<std::vector<flow_descriptor>>(aut, atom::get_v, atom::flows_v);
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].pid, 4242u);
}
