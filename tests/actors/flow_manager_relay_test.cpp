// The flow-manager and the kernel-relay's streams (Linux, where the kernel
// redirects TCP): streams enter, update and leave the table from the
// relay's news; the table's decisions (cap, expiry, reset, policy) reach
// the relay. CAF's deterministic coordinator; a recording stand-in for the
// relay.

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "actors/flow_manager.hpp"
#include "tests/support/caf_test.hpp"
#include "tests/support/fake_capture.hpp"
#include "tests/support/pcap.hpp"

using namespace drover;
using namespace std::chrono_literals;
using kind = net::stream_news::kind;

namespace {

struct relay_record {
  std::vector<uint64_t> stopped;
  std::vector<flow_policy> policies;
  int resets = 0;
};

kernel_relay_actor::behavior_type
recording_relay(kernel_relay_actor::pointer, std::shared_ptr<relay_record> r) {
  return {
      [=](atom::stop, uint64_t id) { r->stopped.push_back(id); },
      [=](atom::update, flow_policy p) { r->policies.push_back(p); },
      [=](atom::reset) { r->resets++; },
      [=](atom::update, atom::check, bool) {},
      [=](atom::get, atom::status) {
        return !r->policies.empty()
               && r->policies.back().tcp == new_flow_policy::proxy;
      },
  };
}

net::endpoint ep(const char* ip, uint16_t port) {
  return {*net::parse_ipv4(ip), port};
}

net::stream_news news(kind what, uint64_t id, uint16_t app_port,
                      uint64_t in = 0, uint64_t out = 0) {
  net::stream_news n;
  n.what = what;
  n.id = id;
  n.app = ep("10.77.0.1", app_port);
  n.remote = ep("10.77.0.2", 443);
  n.in = in;
  n.out = out;
  return n;
}

class flow_manager_relay_test : public test::caf_fixture {
protected:
  flow_manager_relay_test() : capture(std::make_shared<test::fake_capture>()) {
    flow_manager_config fc;
    fc.listener = {net::nat_shape::loopback, 1023};
    fc.table.max_flows = 8;
    fc.policy = flow_policy::both(new_flow_policy::refuse);
    aut = sys.spawn(flow_manager, capture.get(), fc);
    relay = sys.spawn(recording_relay, record);
    self->send(aut, atom::internal_v, relay, 0u);
    sched.run();
  }

  ~flow_manager_relay_test() override {
    self->send_exit(aut, caf::exit_reason::user_shutdown);
    self->send_exit(relay, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void tell(net::stream_news_batch batch) {
    self->send(aut, std::move(batch));
    sched.run();
  }

  stats_snapshot stats() {
    return ask<stats_snapshot>(aut, atom::get_v, atom::stats_v);
  }

  std::vector<flow_descriptor> flows() {
    return ask<std::vector<flow_descriptor>>(aut, atom::get_v, atom::flows_v);
  }

  std::shared_ptr<test::fake_capture> capture;
  std::shared_ptr<relay_record> record = std::make_shared<relay_record>();
  flow_manager_actor aut;
  kernel_relay_actor relay;
};

} // namespace

TEST_F(flow_manager_relay_test,
       the_relay_hears_the_policy_at_once_and_on_change) {
  ASSERT_EQ(record->policies.size(), 1u);
  EXPECT_EQ(record->policies[0], flow_policy::both(new_flow_policy::refuse));
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::proxy));
  sched.run();
  ASSERT_EQ(record->policies.size(), 2u);
  EXPECT_EQ(record->policies[1], flow_policy::both(new_flow_policy::proxy));
  // A TCP-only proxy: the relay hears both halves.
  flow_policy tcp_only{new_flow_policy::proxy, new_flow_policy::refuse};
  self->send(aut, atom::update_v, tcp_only);
  sched.run();
  ASSERT_EQ(record->policies.size(), 3u);
  EXPECT_EQ(record->policies[2], tcp_only);
}

// The supervisor says Active only once the relays have the policy: the
// flow-manager's answer comes after the relay took what was forwarded
// before it, message by message.
TEST_F(flow_manager_relay_test, in_force_is_answered_after_the_relay_has_it) {
  self->send(aut, atom::update_v, flow_policy::both(new_flow_policy::proxy));
  auto pending = self->request(aut, caf::infinite, atom::get_v, atom::status_v);
  bool answered = false;
  size_t policies_at_answer = 0;
  // One message at a time: the flow-manager's two, then the relay's
  // update and status request, then the answers.
  while (sched.try_run_once()) {
    if (!answered && !self->mailbox().empty()) {
      answered = true;
      policies_at_answer = record->policies.size();
    }
  }
  ASSERT_TRUE(answered);
  EXPECT_EQ(policies_at_answer, 2u) << "answered before the relay had it";
  pending.receive([](bool in_force) { EXPECT_TRUE(in_force); },
                  [](const caf::error&) { ADD_FAILURE() << "no answer"; });
}

TEST_F(flow_manager_relay_test,
       a_stream_is_a_flow_with_its_bytes_until_it_ends) {
  tell({news(kind::opened, 7, 40000)});
  auto listed = flows();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].protocol, net::proto_tcp);
  EXPECT_EQ(listed[0].src_port, 40000);
  EXPECT_EQ(listed[0].dst_port, 443);
  EXPECT_EQ(stats().tcp_flows, 1u);
  tell({news(kind::progress, 7, 40000, 5000, 300)});
  tell({news(kind::progress, 7, 40000, 9000, 400)});
  EXPECT_EQ(flows()[0].bytes_in, 9000u);
  EXPECT_EQ(stats().bytes_in, 9000u);
  EXPECT_EQ(stats().bytes_out, 400u);
  // News of another stream with the same 4-tuple but another id changes
  // nothing of this one.
  tell({news(kind::progress, 8, 40000, 1, 1)});
  EXPECT_EQ(stats().bytes_in, 9000u);
  tell({news(kind::ended, 7, 40000, 9100, 400)});
  EXPECT_EQ(stats().bytes_in, 9100u);
  EXPECT_EQ(stats().tcp_flows, 0u) << "ended: closing, no longer counted";
  // The closing entry is swept after a while; the relay is not told to
  // end a stream that ended itself.
  advance(10s);
  EXPECT_TRUE(flows().empty());
  EXPECT_TRUE(record->stopped.empty());
}

TEST_F(flow_manager_relay_test,
       the_cap_and_idle_expiry_end_the_relays_streams) {
  for (uint16_t i = 0; i < 8; ++i)
    tell({news(kind::opened, 100 + i, static_cast<uint16_t>(41000 + i))});
  tell({news(kind::opened, 200, 42000)});
  EXPECT_EQ(stats().flows_evicted, 1u);
  ASSERT_EQ(record->stopped.size(), 1u);
  EXPECT_EQ(record->stopped[0], 100u) << "the least recently active";
  // Thirty minutes without progress: every stream expires.
  for (int i = 0; i < 16; ++i)
    advance(2min);
  EXPECT_EQ(record->stopped.size(), 9u);
  EXPECT_TRUE(flows().empty());
}

TEST_F(flow_manager_relay_test, reset_ends_every_stream_with_one_message) {
  tell({news(kind::opened, 1, 40001), news(kind::opened, 2, 40002)});
  uint32_t ended = 0;
  auto pending = self->request(aut, caf::infinite, atom::reset_v);
  sched.run();
  pending.receive([&](uint32_t n) { ended = n; },
                  [](const caf::error&) { ADD_FAILURE() << "no answer"; });
  EXPECT_EQ(ended, 2u);
  EXPECT_EQ(record->resets, 1);
  EXPECT_TRUE(record->stopped.empty());
}

TEST_F(flow_manager_relay_test, refused_and_foreign_connections_are_counted) {
  auto before = stats();
  tell({news(kind::declined, 0, 40003), news(kind::not_redirected, 0, 40004),
        news(kind::not_redirected, 0, 40005)});
  auto after = stats();
  EXPECT_EQ(after.packets_dropped, before.packets_dropped + 1);
  EXPECT_EQ(after.refused_listener, before.refused_listener + 2);
  EXPECT_TRUE(flows().empty());
}

TEST_F(flow_manager_relay_test,
       a_queued_segment_of_a_relayed_stream_is_not_rewritten) {
  // The rules of a moment ago queued a segment of a connection the kernel
  // now redirects: dropped (the application sends it again), never
  // rewritten by the packet path's NAT.
  auto syn = test::fixtures("fixtures-complete.pcap")[0];
  net::packet_info info;
  ASSERT_EQ(net::parse(syn.data(), syn.size(), info), net::parse_error::none);
  net::stream_news n = news(kind::opened, 5, 0);
  n.app = info.src;
  n.remote = info.dst;
  tell({n});
  auto batch = capture->port_.new_batch();
  std::copy(syn.begin(), syn.end(), batch->data.begin());
  captured_packet p;
  p.id = 1;
  p.length = static_cast<uint32_t>(syn.size());
  batch->packets.push_back(p);
  self->send(aut, packet_batch{batch});
  sched.run();
  ASSERT_FALSE(capture->port_.verdicts.empty());
  EXPECT_EQ(capture->port_.verdicts.back().kind, platform::verdict_kind::drop);
}
