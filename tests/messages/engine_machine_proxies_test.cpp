// The engine state machine with several proxies: each checked and shown
// on its own, each failing alone, the engine reconnecting only when none
// is up (engine_machine_world.hpp).

#include <gtest/gtest.h>

#include "tests/messages/engine_machine_world.hpp"

using namespace drover;
using namespace drover::test::engine_machine_world;

namespace {

struct two_proxies_test : ::testing::Test {
  engine_machine m{recovery_timing{},
                   {proxy_ref{"home", "10.0.0.1", 1080, false},
                    proxy_ref{"work", "10.0.0.2", 3128, true}}};
  engine_machine::time_point now{};

  check_result of(uint32_t proxy, check_result r) {
    r.proxy = proxy;
    return r;
  }

  std::vector<uint32_t> checked(const engine_commands& out) {
    std::vector<uint32_t> which;
    for (auto& c : out)
      if (c.kind == command_kind::check_proxy)
        which.push_back(c.proxy);
    return which;
  }
};

} // namespace

TEST_F(two_proxies_test, each_proxy_is_checked_and_shown_on_its_own) {
  m.on_start();
  auto out = m.on_parts_started({0x0a000001, 0x0a000002});
  EXPECT_EQ(checked(out), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(said(out).front(),
            "capture ready (new connections wait for the proxy check); "
            "checking the proxies home (10.0.0.1:1080), work (10.0.0.2:3128)");
  // The first answers: Active, but not every proxy can be used yet.
  out = m.on_check(of(0, ok()), now);
  auto flows = find(out, command_kind::new_flows);
  ASSERT_TRUE(flows);
  EXPECT_EQ(flows->proxy, 0u);
  EXPECT_FALSE(flows->every_proxy);
  EXPECT_EQ(m.state(), engine_state::active);
  EXPECT_EQ(out.back().event.reason, "proxying through home (10.0.0.1:1080)");
  EXPECT_TRUE(out.back().event.degraded);
  EXPECT_EQ(out.back().event.proxy, "home");
  // The second cannot be reached: its own backoff; the engine stays Active
  // and only its programs stop being proxied.
  out = m.on_check(of(1, unreachable()), now);
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::new_flows, command_kind::publish,
                   command_kind::retry_after}));
  EXPECT_EQ(out[0].proxy, 1u);
  EXPECT_FALSE(out[0].proxying);
  EXPECT_EQ(out[1].event.kind, event_kind::reconnect_attempt);
  EXPECT_EQ(out[1].event.state, engine_state::active);
  EXPECT_EQ(out[1].event.proxy, "work");
  EXPECT_EQ(out[1].event.reason,
            "cannot reach the proxy work (10.0.0.2:3128) (TCP connect: "
            "Connection refused); attempt 1, next try in 1 s");
  EXPECT_EQ(out[2].proxy, 1u);
  EXPECT_EQ(m.phase(), engine_phase::active);
  auto health = m.proxies();
  ASSERT_EQ(health.size(), 2u);
  EXPECT_EQ(health[0].phase, proxy_phase::up);
  EXPECT_EQ(health[1].phase, proxy_phase::reconnecting);
  EXPECT_EQ(health[1].attempt, 1u);
  // Its timer checks it alone; it answers: every proxy up, not degraded.
  EXPECT_EQ(checked(m.on_timer(out[2].operation)), (std::vector<uint32_t>{1}));
  out = m.on_check(of(1, ok()), now + 1s);
  EXPECT_EQ(out.back().event.reason,
            "proxying through work (10.0.0.2:3128) (reconnected after 1 "
            "attempts)");
  EXPECT_FALSE(out.back().event.degraded);
  // A connection's trouble with one proxy checks that one only.
  EXPECT_EQ(checked(m.on_check_wanted(1)), (std::vector<uint32_t>{1}));
  EXPECT_TRUE(m.on_check_wanted(1).empty()); // one is out
}

TEST_F(two_proxies_test, a_refused_proxy_fails_alone_until_retry) {
  m.on_start();
  m.on_parts_started({0x0a000001, 0x0a000002});
  m.on_check(of(0, ok()), now);
  check_result refused;
  refused.proxy = 1;
  refused.failure = failure_class::auth_rejected;
  refused.reason = "the proxy rejected the login";
  auto out = m.on_check(of(1, refused), now);
  EXPECT_EQ(out.back().event.state, engine_state::active);
  EXPECT_EQ(out.back().event.failure, failure_class::auth_rejected);
  EXPECT_EQ(out.back().event.reason,
            "proxy work (10.0.0.2:3128): the proxy rejected the login; its "
            "programs follow their fallback until you choose Retry");
  EXPECT_EQ(m.proxies()[1].phase, proxy_phase::failed);
  EXPECT_EQ(m.phase(), engine_phase::active);
  // Retry tries the failed one again, leaving the other alone.
  out = m.on_retry();
  EXPECT_EQ(checked(out), (std::vector<uint32_t>{1}));
  EXPECT_EQ(m.proxies()[1].phase, proxy_phase::checking);
  m.on_check(of(1, refused), now);
  // The first fails too: now the engine has failed.
  out = m.on_check(of(0, refused), now);
  EXPECT_EQ(m.state(), engine_state::failed);
  EXPECT_EQ(m.phase(), engine_phase::failed_running);
  EXPECT_EQ(out.back().event.reason,
            "proxy home (10.0.0.1:1080): the proxy rejected the login");
}

TEST_F(two_proxies_test, the_engine_reconnects_only_when_no_proxy_is_up) {
  m.on_start();
  m.on_parts_started({0x0a000001, 0x0a000002});
  auto out = m.on_check(of(0, unreachable()), now);
  EXPECT_EQ(m.state(), engine_state::reconnecting);
  out = m.on_check(of(1, ok()), now);
  EXPECT_EQ(m.state(), engine_state::active);
  EXPECT_TRUE(out.back().event.degraded);
  // A stale timer of a series a Stop ended checks nothing.
  auto timer = m.operation();
  m.on_stop();
  EXPECT_TRUE(m.on_timer(timer).empty());
}

TEST_F(two_proxies_test, a_tcp_only_proxy_says_what_its_own_fallback_does) {
  m.on_start();
  m.on_parts_started({0x0a000001, 0x0a000002});
  m.on_check(of(0, ok()), now);
  auto out = m.on_check(of(1, tcp_only()), now);
  auto flows = find(out, command_kind::new_flows);
  ASSERT_TRUE(flows);
  EXPECT_EQ(flows->proxy, 1u);
  EXPECT_FALSE(flows->udp_proxying);
  EXPECT_NE(out.back().event.reason.find("so the targets' UDP goes direct"),
            std::string::npos)
      << out.back().event.reason;
  // The first proxy relays UDP: the engine is not "TCP only".
  EXPECT_FALSE(m.tcp_only());
}

TEST_F(two_proxies_test, sleep_and_wake_check_every_proxy_again) {
  m.on_start();
  m.on_parts_started({0x0a000001, 0x0a000002});
  m.on_check(of(0, ok()), now);
  m.on_check(of(1, unreachable()), now);
  m.on_sleep();
  m.on_wake();
  auto out = m.on_network(true, 0);
  EXPECT_EQ(checked(out), (std::vector<uint32_t>{0, 1}));
  for (auto& h : m.proxies())
    EXPECT_EQ(h.phase, proxy_phase::checking);
}
