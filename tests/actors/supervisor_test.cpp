// The supervisor (supervisor_world.hpp): the proxy's checks, its
// reconnects and the recovery table's rows, state by state.

#include "tests/actors/supervisor_world.hpp"

using namespace drover;
using namespace drover::test::supervisor_world;

TEST_F(supervisor_test, start_checks_the_proxy_then_is_active) {
  start();
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
  EXPECT_EQ(current().reason, "proxying through proxy.test:1080");
  EXPECT_EQ(sc->captures, 1);
  EXPECT_EQ(sc->probed, (std::vector<std::string>{"10.0.0.1"}));
}

// Several proxies: each checked on its own; one unreachable retries on
// its own timer while the other carries its programs; the kernel program
// hears which one cannot be used; `status` has a row for each; `check`
// (the tray's, through the engine) checks each or one by name.
TEST_F(supervisor_test, each_proxy_is_checked_and_retried_on_its_own) {
  config::proxy_settings second;
  second.name = "work";
  second.host = "proxy2.test";
  second.port = 3128;
  settings.proxies[0].name = "home";
  settings.proxies.push_back(second);
  sc->names["proxy2.test"] = "10.0.0.2";
  // The first's check passes, the second's fails twice.
  sc->verdicts = {probe_verdict::ok, probe_verdict::unreachable,
                  probe_verdict::unreachable};
  start();
  EXPECT_EQ(sc->probed, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
  EXPECT_TRUE(current().degraded);
  EXPECT_EQ(current().proxy, "work");
  ASSERT_TRUE(sc->guard);
  EXPECT_NE(std::find(sc->guard->proxying.begin(), sc->guard->proxying.end(),
                      std::make_tuple(1u, false, false)),
            sc->guard->proxying.end())
      << "the second proxy's targets: not through it";
  auto status = ask<engine_status>(sup, atom::get_v, atom::status_v);
  ASSERT_EQ(status.proxies.size(), 2u);
  EXPECT_EQ(status.proxies[0].state, "up");
  EXPECT_EQ(status.proxies[1].state, "reconnecting");
  EXPECT_EQ(status.proxies[1].attempt, 1u);
  // Only the second is probed again, after its own 1 s.
  advance(1s);
  EXPECT_EQ(sc->probed.size(), 3u);
  EXPECT_EQ(sc->probed.back(), "10.0.0.2");
  advance(5s);
  EXPECT_EQ(sc->probed.back(), "10.0.0.2");
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_FALSE(current().degraded) << current().reason;
  EXPECT_EQ(current().reason,
            "proxying through work (proxy2.test:3128) (reconnected after 2 "
            "attempts)");
  // The tray's check, run by the engine.
  auto all = ask<std::string>(sup, atom::get_v, atom::check_v, std::string{});
  EXPECT_EQ(all.front(), '[') << all;
  EXPECT_NE(all.find("\"name\":\"work\""), std::string::npos) << all;
  auto one
      = ask<std::string>(sup, atom::get_v, atom::check_v, std::string{"work"});
  EXPECT_EQ(one.rfind("{\"proxy\":\"proxy2.test:3128\",\"name\":\"work\"", 0),
            0u)
      << one;
  auto none
      = ask<std::string>(sup, atom::get_v, atom::check_v, std::string{"other"});
  EXPECT_EQ(none, "error\nno proxy is called \"other\"; the proxies are "
                  "\"home\", \"work\"\n");
}

TEST_F(supervisor_test,
       an_unreachable_proxy_backs_off_step_by_step_then_fails) {
  sc->verdicts.assign(100, probe_verdict::unreachable);
  start();
  // Each attempt's delay: 1 s, 5 s, then 30 s (the cap) until the proxy
  // has been down for 5 min.
  std::vector<int> expected_delays{1, 5, 30, 30, 30, 30, 30, 30, 30, 30, 30};
  for (size_t i = 0; i < expected_delays.size(); ++i) {
    auto e = current();
    ASSERT_EQ(e.state, engine_state::reconnecting) << i << ": " << e.reason;
    EXPECT_EQ(e.attempt, i + 1);
    EXPECT_EQ(e.failure, failure_class::proxy_unreachable);
    auto delay = std::to_string(expected_delays[i]) + " s";
    EXPECT_NE(e.reason.find("next try in " + delay), std::string::npos)
        << e.reason;
    auto probes = sc->probed.size();
    advance(std::chrono::seconds{expected_delays[i]} - 1ms);
    EXPECT_EQ(sc->probed.size(), probes) << "not before its time";
    advance(1ms);
    EXPECT_EQ(sc->probed.size(), probes + 1) << "on time";
  }
  // 1 + 5 + 9 x 30 = 276 s so far; the next failure at 306 s gives up.
  advance(30s);
  EXPECT_EQ(current().state, engine_state::failed) << current().reason;
  EXPECT_NE(current().reason.find("the proxy stayed unreachable for 5 min"),
            std::string::npos)
      << current().reason;
  auto probes = sc->probed.size();
  advance(10min);
  EXPECT_EQ(sc->probed.size(), probes) << "no retry after Failed";
}

TEST_F(supervisor_test, each_failed_attempt_looks_the_name_up_again) {
  sc->verdicts.assign(3, probe_verdict::unreachable);
  start();
  auto lookups = sc->lookups;
  advance(1s);
  EXPECT_EQ(sc->lookups, lookups + 1);
  advance(5s);
  EXPECT_EQ(sc->lookups, lookups + 2);
}

TEST_F(supervisor_test, the_proxy_back_is_active_with_the_attempts_counted) {
  sc->verdicts = {probe_verdict::unreachable, probe_verdict::unreachable};
  start();
  advance(1s);
  advance(5s);
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(current().reason,
            "proxying through proxy.test:1080 (reconnected after 2 attempts)");
}

TEST_F(supervisor_test, rejected_credentials_fail_at_once_and_never_retry) {
  sc->verdicts = {probe_verdict::auth_rejected};
  start();
  EXPECT_EQ(current().state, engine_state::failed);
  EXPECT_EQ(current().failure, failure_class::auth_rejected);
  EXPECT_TRUE(of_kind(event_kind::reconnect_attempt).empty());
  advance(10min);
  EXPECT_EQ(sc->probed.size(), 1u);
}

TEST_F(supervisor_test, a_server_that_is_not_socks5_fails_at_once) {
  sc->verdicts = {probe_verdict::not_socks5};
  start();
  EXPECT_EQ(current().state, engine_state::failed);
  EXPECT_EQ(current().failure, failure_class::fatal);
}

TEST_F(supervisor_test, a_proxy_that_moved_is_followed_to_its_new_address) {
  start();
  ASSERT_EQ(current().state, engine_state::active);
  sc->names["proxy.test"] = "10.0.0.2";
  sc->verdicts = {probe_verdict::unreachable}; // at 10.0.0.1
  self->send(sup, atom::check_v, std::string{"connection refused"}, 0u);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
  EXPECT_EQ(sc->captures, 2) << "a new capture that excludes the new address";
  EXPECT_EQ(sc->probed.back(), "10.0.0.2");
  bool said = false;
  for (auto& e : *events)
    said
        |= e.reason.find("now at 10.0.0.2 (was 10.0.0.1)") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST_F(supervisor_test, a_name_not_found_at_start_is_found_on_a_later_attempt) {
  sc->names.clear();
  start();
  EXPECT_EQ(current().state, engine_state::reconnecting) << current().reason;
  EXPECT_NE(current().reason.find("cannot find the proxy proxy.test"),
            std::string::npos)
      << current().reason;
  sc->names["proxy.test"] = "10.0.0.7";
  advance(1s);
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
  EXPECT_EQ(sc->captures, 2);
}

TEST_F(supervisor_test, a_lost_packet_handle_is_reopened_after_2_s) {
  start();
  EXPECT_EQ(fault("driver-lost"), "the packet handle fails");
  auto restarts = of_kind(event_kind::restart);
  ASSERT_EQ(restarts.size(), 1u);
  EXPECT_EQ(restarts[0].failure, failure_class::driver_lost);
  EXPECT_EQ(restarts[0].attempt, 1u);
  EXPECT_EQ(current().state, engine_state::starting);
  advance(2s - 1ms);
  EXPECT_EQ(sc->captures, 1) << "not before 2 s";
  advance(1ms);
  EXPECT_EQ(sc->captures, 2);
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
}

TEST_F(supervisor_test, a_second_loss_within_30_s_is_failed) {
  start();
  fault("driver-lost");
  advance(2s);
  ASSERT_EQ(current().state, engine_state::active);
  advance(27s);
  fault("driver-lost");
  EXPECT_EQ(current().state, engine_state::failed);
  EXPECT_EQ(current().failure, failure_class::driver_lost);
  EXPECT_NE(current().reason.find("lost twice in a short time"),
            std::string::npos);
}

TEST_F(supervisor_test, a_second_loss_after_30_s_is_reopened_again) {
  start();
  fault("driver-lost");
  advance(2s);
  advance(31s);
  fault("driver-lost");
  EXPECT_EQ(current().state, engine_state::starting);
  advance(2s);
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(sc->captures, 3);
}

TEST_F(supervisor_test, a_panic_writes_a_crash_report_and_retry_restarts) {
  start();
  EXPECT_EQ(fault("panic"), "the flow-manager throws");
  EXPECT_EQ(current().state, engine_state::failed);
  EXPECT_EQ(current().failure, failure_class::panic);
  EXPECT_NE(current().reason.find("a crash report is in " + crash_dir.string()),
            std::string::npos)
      << current().reason;
  int reports = 0;
  for (auto& e : fs::directory_iterator{crash_dir})
    reports += e.path().filename().string().rfind("crash-", 0) == 0;
  EXPECT_EQ(reports, 1);
  self->send(sup, atom::retry_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(sc->captures, 2);
}

// Fail closed through sleep: the capture and the parts stay (the targets'
// packets are dropped meanwhile); the wake checks the proxy again.
TEST_F(supervisor_test,
       sleep_keeps_the_capture_and_wake_waits_for_a_route_then_checks) {
  start();
  auto probes = sc->probed.size();
  bool ready = false;
  auto pending = self->request(sup, caf::infinite, atom::sleep_v);
  sched.run();
  pending.receive([&](bool b) { ready = b; }, [](const caf::error&) {});
  EXPECT_TRUE(ready) << "answered once paused";
  EXPECT_EQ(current().state, engine_state::paused);
  EXPECT_EQ(current().failure, failure_class::sleep);
  sc->route = false;
  self->send(sup, atom::resume_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::starting);
  EXPECT_EQ(current().reason, "the computer woke up: waiting for the network");
  pass(2s);
  EXPECT_EQ(sc->probed.size(), probes) << "no route to the proxy yet";
  sc->route = true;
  advance(250ms);
  EXPECT_EQ(sc->probed.size(), probes + 1);
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(sc->captures, 1) << "the same session throughout";
  EXPECT_EQ(sc->guards, 1);
  EXPECT_EQ(sc->guard->released, 0);
}

TEST_F(supervisor_test, wake_without_a_route_starts_anyway_after_5_s) {
  start();
  auto pending = self->request(sup, caf::infinite, atom::sleep_v);
  sched.run();
  pending.receive([](bool) {}, [](const caf::error&) {});
  sc->route = false;
  auto probes = sc->probed.size();
  self->send(sup, atom::resume_v);
  sched.run();
  pass(4900ms, 50ms);
  EXPECT_EQ(sc->probed.size(), probes);
  pass(200ms, 50ms);
  EXPECT_EQ(sc->probed.size(), probes + 1);
  EXPECT_EQ(current().state, engine_state::active);
}

TEST_F(supervisor_test, no_traffic_while_targets_run_is_said_once) {
  settings.engine.heartbeat_interval = 1s;
  settings.engine.no_traffic_warn_after = 3s;
  start();
  process_set ps;
  ps.processes.push_back({4242, 1, "Discord", "Discord"});
  self->send(sup, ps);
  sched.run();
  auto said_so_far = [&] {
    int n = 0;
    for (auto& e : of_kind(event_kind::info))
      n += e.reason.find("Active (no traffic)") != std::string::npos;
    return n;
  };
  pass(2500ms);
  EXPECT_EQ(said_so_far(), 0) << "not before 3 s without traffic";
  pass(2s);
  EXPECT_EQ(said_so_far(), 1);
  EXPECT_EQ(current().state, engine_state::active) << "still Active";
  pass(5s);
  EXPECT_EQ(said_so_far(), 1) << "said once";
}

TEST_F(supervisor_test, no_traffic_without_targets_is_not_a_warning) {
  settings.engine.heartbeat_interval = 1s;
  settings.engine.no_traffic_warn_after = 3s;
  start();
  pass(10s);
  for (auto& e : of_kind(event_kind::info))
    EXPECT_EQ(e.reason.find("no traffic"), std::string::npos) << e.reason;
}

TEST_F(supervisor_test, a_new_proxy_in_the_config_restarts_onto_it) {
  start();
  auto next = settings;
  next.proxies[0].port = 1081;
  self->send(sup, diff(settings, next));
  sched.run();
  EXPECT_EQ(sc->captures, 2);
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(current().reason, "proxying through proxy.test:1081");
}
