// The engine state machine row by row: each input in each phase, and the
// commands that come out. No actors and no clock: `now` is passed in
// (engine_machine_world.hpp; several proxies:
// engine_machine_proxies_test.cpp).

#include <gtest/gtest.h>

#include "tests/messages/engine_machine_world.hpp"

using namespace drover;
using namespace drover::test::engine_machine_world;

TEST_F(machine_test, start_opens_the_parts_then_checks_the_proxy) {
  auto out = m.on_start();
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::start_parts}));
  EXPECT_EQ(out[0].event.state, engine_state::starting);
  EXPECT_EQ(out[0].event.reason, "starting the engine");
  EXPECT_EQ(m.phase(), engine_phase::starting);
  EXPECT_TRUE(m.guard_held());
  out = m.on_parts_started(proxy_ip);
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::check_proxy}));
  EXPECT_EQ(out[0].event.kind, event_kind::info);
  EXPECT_EQ(m.phase(), engine_phase::checking);
  EXPECT_EQ(m.sessions_alive(), 1);
  out = m.on_check(ok(), now);
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::new_flows, command_kind::publish}));
  EXPECT_TRUE(out[0].proxying);
  EXPECT_TRUE(out[0].udp_proxying);
  EXPECT_EQ(out[1].event.state, engine_state::active);
  EXPECT_EQ(out[1].event.reason, "proxying through proxy.test:1080");
  EXPECT_FALSE(out[1].event.tcp_only);
  EXPECT_EQ(m.state(), engine_state::active);
}

// A proxy without UDP ASSOCIATE is Active for TCP (never Reconnecting for
// ever): the targets' UDP follows the fallback, and the event says so.
TEST_F(machine_test, a_tcp_only_proxy_is_active_for_tcp_and_says_why_not_udp) {
  m.on_start();
  m.on_parts_started(proxy_ip);
  auto out = m.on_check(tcp_only(), now);
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::new_flows, command_kind::publish}));
  EXPECT_TRUE(out[0].proxying);
  EXPECT_FALSE(out[0].udp_proxying);
  EXPECT_EQ(out[1].event.state, engine_state::active);
  EXPECT_TRUE(out[1].event.tcp_only);
  EXPECT_EQ(out[1].event.reason,
            "proxying TCP through proxy.test:1080; voice cannot go through "
            "this proxy: it does not relay UDP (proxy refused: command not "
            "supported), so the targets' UDP is blocked; use a proxy with UDP "
            "ASSOCIATE for voice");
  EXPECT_TRUE(m.tcp_only());
  // The same answer again changes nothing; the fallback changed live says
  // the new one and sets the policy again.
  EXPECT_TRUE(m.on_check(tcp_only(), now).empty());
  config_change c;
  c.targets = true;
  c.proxies = {proxy_ref{{}, "proxy.test", 1080, true}};
  out = m.on_config(c);
  auto flows = find(out, command_kind::new_flows);
  ASSERT_TRUE(flows);
  EXPECT_TRUE(flows->proxying);
  EXPECT_FALSE(flows->udp_proxying);
  ASSERT_FALSE(said(out).empty());
  EXPECT_NE(said(out).back().find("so the targets' UDP goes direct"),
            std::string::npos)
      << said(out).back();
  EXPECT_EQ(m.state(), engine_state::active);
  // The proxy relays UDP now (upgraded, or its rules changed).
  out = m.on_check(ok(), now);
  flows = find(out, command_kind::new_flows);
  ASSERT_TRUE(flows);
  EXPECT_TRUE(flows->udp_proxying);
  EXPECT_EQ(said(out),
            (std::vector<std::string>{"proxying through proxy.test:1080"}));
  EXPECT_FALSE(m.tcp_only());
}

TEST_F(machine_test, start_while_running_does_nothing) {
  activate();
  EXPECT_TRUE(m.on_start().empty());
  EXPECT_TRUE(m.on_retry().empty()); // Retry is for Failed only
}

TEST_F(machine_test, a_start_that_cannot_capture_fails_holding_the_guard) {
  m.on_start();
  auto out = m.on_start_failed(failure_class::driver_gone, "no driver");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].event.state, engine_state::failed);
  EXPECT_EQ(out[0].event.failure, failure_class::driver_gone);
  EXPECT_EQ(m.phase(), engine_phase::failed_holding);
  EXPECT_EQ(find(out, command_kind::release_guard), nullptr);
  // Stop releases everything.
  out = m.on_stop();
  EXPECT_NE(find(out, command_kind::release_guard), nullptr);
  EXPECT_EQ(said(out).back(), "stopped: nothing is captured");
  EXPECT_EQ(m.phase(), engine_phase::idle);
}

TEST_F(machine_test, unreachable_backs_off_1_5_30_s_then_fails_after_5_min) {
  m.on_start();
  m.on_parts_started(proxy_ip);
  auto out = m.on_check(unreachable(), now);
  EXPECT_EQ(m.phase(), engine_phase::reconnecting);
  auto retry = find(out, command_kind::retry_after);
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ(retry->delay, 1s);
  auto flows = find(out, command_kind::new_flows);
  ASSERT_NE(flows, nullptr);
  EXPECT_FALSE(flows->proxying);
  EXPECT_EQ(said(out).back(),
            "cannot reach the proxy proxy.test:1080 (TCP connect: Connection "
            "refused); attempt 1, next try in 1 s");
  // A stale timer does nothing; the current one checks again.
  EXPECT_TRUE(m.on_timer(retry->operation - 1).empty());
  EXPECT_EQ(kinds_of(m.on_timer(retry->operation)),
            kinds{command_kind::check_proxy});
  out = m.on_check(unreachable(), now + 1s);
  EXPECT_EQ(retry_delay(out), 5s);
  m.on_timer(m.operation());
  out = m.on_check(unreachable(), now + 6s);
  EXPECT_EQ(retry_delay(out), 30s);
  m.on_timer(m.operation());
  out = m.on_check(unreachable(), now + 301s);
  EXPECT_EQ(m.phase(), engine_phase::failed_running);
  EXPECT_EQ(m.state(), engine_state::failed);
  EXPECT_EQ(find(out, command_kind::stop_parts), nullptr); // fail closed
  EXPECT_NE(said(out).back().find("for 5 min"), std::string::npos);
}

TEST_F(machine_test, the_proxy_back_counts_the_attempts) {
  m.on_start();
  m.on_parts_started(proxy_ip);
  m.on_check(unreachable(), now);
  m.on_timer(m.operation());
  m.on_check(unreachable(), now + 1s);
  m.on_timer(m.operation());
  auto out = m.on_check(ok(), now + 6s);
  EXPECT_EQ(said(out).back(),
            "proxying through proxy.test:1080 (reconnected after 2 attempts)");
}

TEST_F(machine_test, rejected_credentials_fail_at_once_with_the_parts_kept) {
  m.on_start();
  m.on_parts_started(proxy_ip);
  check_result r;
  r.failure = failure_class::auth_rejected;
  r.reason = "the proxy refused the login";
  auto out = m.on_check(r, now);
  EXPECT_EQ(m.phase(), engine_phase::failed_running);
  EXPECT_EQ(find(out, command_kind::retry_after), nullptr);
  // Retry stops the parts, then starts them again.
  out = m.on_retry();
  EXPECT_EQ(kinds_of(out), kinds{command_kind::stop_parts});
  out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::release_capture), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::waiting_for_old_session);
  out = m.on_session_gone();
  EXPECT_EQ(said(out).front(),
            "restarting the engine's parts (the capture stays)");
  EXPECT_NE(find(out, command_kind::start_parts), nullptr);
  EXPECT_EQ(find(out, command_kind::release_guard), nullptr);
}

TEST_F(machine_test, a_proxy_that_moved_restarts_onto_its_new_address) {
  activate();
  m.on_check_wanted();
  auto r = ok();
  r.proxy_ip = 0x0a000002;
  auto out = m.on_check(r, now);
  EXPECT_EQ(said(out).front(), "the proxy proxy.test is now at 10.0.0.2 (was "
                               "10.0.0.1): restarting the engine");
  EXPECT_EQ(m.phase(), engine_phase::stopping);
  EXPECT_EQ(m.then(), after_stop::restart);
}

TEST_F(machine_test, a_check_is_asked_for_once_while_active) {
  EXPECT_TRUE(m.on_check_wanted().empty()); // idle
  activate();
  EXPECT_EQ(kinds_of(m.on_check_wanted()), kinds{command_kind::check_proxy});
  EXPECT_TRUE(m.on_check_wanted().empty());   // one is out
  EXPECT_TRUE(m.on_check(ok(), now).empty()); // the proxy is fine
  EXPECT_EQ(m.phase(), engine_phase::active);
}

TEST_F(machine_test, a_lost_handle_is_reopened_after_2_s_holding_the_capture) {
  activate();
  auto out = m.on_part_down(failure_class::driver_lost, "read failed", now);
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::new_flows,
                   command_kind::stop_parts, command_kind::retry_after}));
  EXPECT_EQ(out[0].event.kind, event_kind::restart);
  EXPECT_EQ(out[0].event.reason,
            "the packet handle was lost (read failed); reopening it in 2 s");
  auto op = out[3].operation;
  out = m.on_parts_stopped();
  EXPECT_EQ(find(out, command_kind::release_capture), nullptr); // held
  EXPECT_EQ(m.phase(), engine_phase::reopen_wait);
  out = m.on_timer(op);
  EXPECT_NE(find(out, command_kind::release_capture), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::waiting_for_old_session);
  out = m.on_session_gone();
  EXPECT_EQ(said(out).front(), "reopening the packet handle");
  EXPECT_EQ(m.phase(), engine_phase::starting);
}

TEST_F(machine_test, a_timer_that_fires_while_the_parts_stop_reopens_after) {
  activate();
  auto out = m.on_part_down(failure_class::driver_lost, "x", now);
  m.on_timer(out.back().operation);
  EXPECT_EQ(m.then(), after_stop::reopen_now);
  out = m.on_parts_stopped();
  EXPECT_EQ(m.phase(), engine_phase::waiting_for_old_session);
}

TEST_F(machine_test, a_second_loss_within_30_s_fails) {
  activate();
  auto out = m.on_part_down(failure_class::driver_lost, "x", now);
  m.on_parts_stopped();
  m.on_timer(out.back().operation);
  m.on_session_gone();
  m.on_parts_started(proxy_ip);
  m.on_check(ok(), now + 3s);
  out = m.on_part_down(failure_class::driver_lost, "y", now + 10s);
  EXPECT_EQ(m.state(), engine_state::failed);
  EXPECT_EQ(m.then(), after_stop::failed);
  m.on_parts_stopped();
  EXPECT_EQ(m.phase(), engine_phase::failed_holding);
}

TEST_F(machine_test, a_panic_fails_with_the_sentence_given) {
  activate();
  auto out = m.on_part_down(failure_class::panic, "an engine part failed", now);
  EXPECT_EQ(out[0].event.reason, "an engine part failed");
  EXPECT_EQ(out[0].event.failure, failure_class::panic);
  EXPECT_EQ(m.phase(), engine_phase::stopping);
}

TEST_F(machine_test, an_exit_without_a_class_is_fatal) {
  activate();
  auto out = m.on_part_down(failure_class::none, "killed", now);
  EXPECT_EQ(out[0].event.failure, failure_class::fatal);
  EXPECT_EQ(out[0].event.reason, "an engine part stopped: killed");
}

TEST_F(machine_test, stop_releases_the_guard_once_the_parts_are_down) {
  activate();
  auto out = m.on_stop();
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::stop_parts}));
  EXPECT_EQ(out[0].event.reason, "stopping");
  out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::release_capture), nullptr);
  EXPECT_NE(find(out, command_kind::release_guard), nullptr);
  EXPECT_EQ(m.state(), engine_state::idle);
  EXPECT_FALSE(m.guard_held());
}

TEST_F(machine_test, stop_wins_over_a_restart_under_way) {
  activate();
  auto r = ok();
  r.proxy_ip = 0x0a000002;
  m.on_check(r, now); // moved: restarting
  m.on_stop();
  auto out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::release_guard), nullptr);
  EXPECT_EQ(find(out, command_kind::start_parts), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::idle);
}

TEST_F(machine_test, stop_while_reconnecting_cancels_the_timer) {
  m.on_start();
  m.on_parts_started(proxy_ip);
  auto out = m.on_check(unreachable(), now);
  auto op = retry_operation(out);
  m.on_stop();
  EXPECT_TRUE(m.on_timer(op).empty());
}

TEST_F(machine_test, sleep_drops_flows_and_wake_checks_after_the_route) {
  activate();
  auto out = m.on_sleep();
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::end_flows}));
  EXPECT_EQ(m.state(), engine_state::paused);
  out = m.on_wake();
  EXPECT_EQ(out[0].event.failure, failure_class::resume);
  EXPECT_EQ(m.phase(), engine_phase::waking_running);
  // No route yet: look again every 250 ms, at most 20 times.
  out = m.on_network(false, 0);
  ASSERT_EQ(kinds_of(out), kinds{command_kind::look_for_network});
  EXPECT_EQ(out[0].delay, 250ms);
  EXPECT_EQ(out[0].looks, 1u);
  out = m.on_network(false, 20);
  EXPECT_EQ(kinds_of(out), kinds{command_kind::check_proxy});
  EXPECT_EQ(m.phase(), engine_phase::checking);
}

TEST_F(machine_test, sleep_during_a_restart_pauses_once_the_parts_are_down) {
  activate();
  m.on_config(new_proxy("other.test", 1080));
  EXPECT_EQ(m.then(), after_stop::restart);
  auto out = m.on_sleep();
  EXPECT_EQ(find(out, command_kind::answer_sleepers), nullptr); // not yet
  EXPECT_EQ(m.then(), after_stop::pause);
  out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::answer_sleepers), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::paused_down);
  // The wake starts the parts again.
  m.on_wake();
  out = m.on_network(true, 0);
  EXPECT_EQ(m.phase(), engine_phase::waiting_for_old_session);
  out = m.on_session_gone();
  EXPECT_EQ(said(out).front(), "starting the engine");
}

TEST_F(machine_test,
       wake_before_the_parts_are_down_looks_for_the_network_after) {
  activate();
  m.on_config(new_proxy("other.test", 1080));
  m.on_sleep();
  m.on_wake();
  EXPECT_EQ(m.then(), after_stop::wake);
  auto out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::look_for_network), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::waking_down);
}

TEST_F(machine_test, sleep_between_a_loss_and_its_reopen_waits_for_the_wake) {
  activate();
  auto out = m.on_part_down(failure_class::driver_lost, "x", now);
  auto op = out.back().operation;
  m.on_parts_stopped();
  out = m.on_sleep();
  EXPECT_NE(find(out, command_kind::release_capture), nullptr);
  EXPECT_NE(find(out, command_kind::answer_sleepers), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::paused_down);
  EXPECT_TRUE(m.on_timer(op).empty()); // no reopen while asleep
}

TEST_F(machine_test, sleep_while_idle_or_stopping_is_answered_at_once) {
  EXPECT_EQ(kinds_of(m.on_sleep()), kinds{command_kind::answer_sleepers});
  activate();
  m.on_stop();
  EXPECT_EQ(kinds_of(m.on_sleep()), kinds{command_kind::answer_sleepers});
}

TEST_F(machine_test, a_new_proxy_restarts_only_running_parts) {
  auto out = m.on_config(new_proxy("other.test", 1081));
  EXPECT_EQ(kinds_of(out), kinds{command_kind::publish});
  EXPECT_EQ(out[0].event.kind, event_kind::config_applied);
  EXPECT_EQ(out[0].event.reason,
            "the config file changed; the proxy is now other.test:1081");
  activate();
  out = m.on_config(new_proxy("third.test", 1082));
  EXPECT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::stop_parts}));
  EXPECT_EQ(out[0].event.reason, "the config file changed; the proxy is now "
                                 "third.test:1082: restarting the engine");
  m.on_parts_stopped();
  out = m.on_session_gone();
  out = m.on_parts_started(proxy_ip);
  EXPECT_NE(said(out).front().find("third.test:1082"), std::string::npos);
}

TEST_F(machine_test, new_timing_waits_for_the_running_series_to_end) {
  m.on_start();
  m.on_parts_started(proxy_ip);
  m.on_check(unreachable(), now);
  recovery_timing fast;
  fast.backoff_initial = 100ms;
  config_change c;
  c.engine = true;
  c.proxies = {proxy_ref{{}, "proxy.test", 1080, false}};
  c.timing = fast;
  m.on_config(c);
  m.on_timer(m.operation());
  auto out = m.on_check(unreachable(), now + 1s);
  EXPECT_EQ(retry_delay(out), 5s); // old series
  m.on_timer(m.operation());
  m.on_check(ok(), now + 6s);
  m.on_check_wanted();
  out = m.on_check(unreachable(), now + 10s);
  EXPECT_EQ(retry_delay(out), 100ms);
}

TEST_F(machine_test, quit_stops_the_parts_then_releases_and_quits) {
  activate();
  auto out = m.on_quit();
  EXPECT_EQ(kinds_of(out), kinds{command_kind::stop_parts});
  out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::release_guard), nullptr);
  EXPECT_EQ(out.back().kind, command_kind::quit);
}

TEST_F(machine_test, quit_while_idle_quits_at_once) {
  auto out = m.on_quit();
  EXPECT_EQ(out.back().kind, command_kind::quit);
  EXPECT_TRUE(said(out).empty()); // already Idle
}

TEST_F(machine_test, a_start_waits_for_the_old_session) {
  activate();
  m.on_stop();
  m.on_parts_stopped();
  EXPECT_EQ(m.sessions_alive(), 1); // a part still holds it
  m.on_start();
  EXPECT_EQ(m.phase(), engine_phase::waiting_for_old_session);
  // Stop meanwhile: the start is dropped.
  m.on_stop();
  EXPECT_TRUE(m.on_session_gone().empty());
  EXPECT_EQ(m.phase(), engine_phase::idle);
}

TEST(duration_text, says_minutes_seconds_or_milliseconds) {
  EXPECT_EQ(duration_text(std::chrono::minutes{5}), "5 min");
  EXPECT_EQ(duration_text(30s), "30 s");
  EXPECT_EQ(duration_text(250ms), "250 ms");
  EXPECT_EQ(duration_text(0ms), "0 s");
}

TEST_F(machine_test, a_config_change_says_what_applies_now_and_what_later) {
  activate();
  config_change c;
  c.targets = true;
  c.rules = true;
  c.ui = true;
  c.engine = true;
  c.proxies = {proxy_ref{{}, "proxy.test", 1080, false}};
  auto out = m.on_config(c);
  ASSERT_EQ(kinds_of(out), kinds{command_kind::publish});
  EXPECT_EQ(out[0].event.state, engine_state::active);
  EXPECT_EQ(out[0].event.reason,
            "the config file changed; applied the rules, [targets], [ui], "
            "[engine]")
      << "[engine]'s timing: the next reconnect series";
  // [skip] and the flow keys: the parts restart onto them (the capture
  // stays), as for a new proxy.
  c = {};
  c.skip = true;
  c.engine = true;
  c.engine_parts = true;
  c.proxies = {proxy_ref{{}, "proxy.test", 1080, false}};
  out = m.on_config(c);
  ASSERT_EQ(kinds_of(out),
            (kinds{command_kind::publish, command_kind::stop_parts}))
      << "restarting";
  EXPECT_EQ(out[0].event.reason,
            "the config file changed; [engine], [skip]: restarting the engine "
            "onto it");
}

TEST_F(machine_test, a_skip_change_while_idle_waits_for_the_start) {
  config_change c;
  c.skip = true;
  c.proxies = {proxy_ref{{}, "proxy.test", 1080, false}};
  auto out = m.on_config(c);
  ASSERT_EQ(kinds_of(out), kinds{command_kind::publish});
  EXPECT_EQ(out[0].event.reason,
            "the config file changed; [skip] applies at the next start");
}

TEST_F(machine_test, sleep_again_while_waking_cancels_the_network_look) {
  activate();
  m.on_sleep();
  m.on_wake();
  ASSERT_EQ(m.phase(), engine_phase::waking_running);
  m.on_sleep(); // asleep again before the network was back
  EXPECT_EQ(m.phase(), engine_phase::paused_running);
  EXPECT_EQ(m.state(), engine_state::paused);
  EXPECT_TRUE(m.on_network(true, 3).empty()) << "no check while asleep";
}

TEST_F(machine_test, stop_wins_over_a_reopen_under_way) {
  activate();
  auto out = m.on_part_down(failure_class::driver_lost, "x", now);
  auto op = out.back().operation;
  m.on_stop(); // while the parts stop for the reopen
  out = m.on_parts_stopped();
  EXPECT_NE(find(out, command_kind::release_guard), nullptr);
  EXPECT_EQ(m.phase(), engine_phase::idle);
  EXPECT_TRUE(m.on_timer(op).empty()) << "no reopen after the Stop";
}
