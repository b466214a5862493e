// The supervisor on CAF's deterministic test coordinator: a fake capture,
// scripted proxy checks and name lookups, no listener. Time moves only when
// the test moves it, so every row of the recovery table and every backoff
// step is checked exactly.

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/config_watcher.hpp"
#include "actors/supervisor.hpp"
#include "tests/support/caf_test.hpp"
#include "tests/support/fake_capture.hpp"

using namespace drover;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using event_log = std::shared_ptr<std::vector<engine_event>>;

engine_listener_actor::behavior_type collector(engine_listener_actor::pointer,
                                               event_log out) {
  return {[=](const engine_event& e) { out->push_back(e); },
          [](const stats_snapshot&) {
          }};
}

// What the platform answers, scripted by each test.
struct script {
  std::deque<probe_verdict> verdicts; // then: ok
  std::map<std::string, std::string> names{{"proxy.test", "10.0.0.1"}};
  bool route = true;
  std::vector<std::string> probed; // the address of every probe
  int lookups = 0;
  int captures = 0;
  // Sessions destroyed (each closes its packet queue).
  std::shared_ptr<int> sessions_destroyed = std::make_shared<int>(0);
  int guards = 0;
  std::shared_ptr<test::fake_guard> guard; // the latest
};

class supervisor_test : public test::caf_fixture {
protected:
  supervisor_test()
      : events(std::make_shared<std::vector<engine_event>>()),
        crash_dir(fs::temp_directory_path()
                  / ("drover-sup-" + std::to_string(::getpid()))) {
    fs::remove_all(crash_dir);
    settings.proxies[0].host = "proxy.test";
    settings.proxies[0].port = 1080;
    settings.rules[0].apps = {"no-such-program-here"};
  }

  ~supervisor_test() override {
    if (sup) {
      self->send_exit(sup, caf::exit_reason::user_shutdown);
      sched.run();
    }
    std::error_code ec;
    fs::remove_all(crash_dir, ec);
  }

  supervisor_ports ports() {
    supervisor_ports p;
    auto s = sc;
    p.open_guard = [s](const platform::guard_options&) {
      s->guards++;
      platform::guard_result r;
      s->guard = std::make_shared<test::fake_guard>();
      r.guard = s->guard;
      return r;
    };
    p.open_capture = [s](const platform::capture_options&) {
      s->captures++;
      platform::capture_result r;
      r.session = std::make_unique<test::fake_capture>(s->sessions_destroyed);
      return r;
    };
    p.probe = [s](const probe_request& req) {
      s->probed.push_back(net::to_string(req.proxy.ip));
      probe_result r;
      r.verdict = probe_verdict::ok;
      if (!s->verdicts.empty()) {
        r.verdict = s->verdicts.front();
        s->verdicts.pop_front();
      }
      if (r.verdict != probe_verdict::ok)
        r.reason = "TCP connect: Connection refused";
      return r;
    };
    p.resolve = [s](const std::string& host,
                    std::string& error) -> std::optional<net::ipv4_address> {
      s->lookups++;
      auto it = s->names.find(host);
      if (it == s->names.end()) {
        error = "no such host";
        return std::nullopt;
      }
      return net::parse_ipv4(it->second);
    };
    p.has_route = [s](net::ipv4_address) {
      return s->route;
    };
    p.probe_on_own_thread = false;
    p.with_listener = false;
    p.watch_on_own_thread = false;
    p.crash_dir = crash_dir;
    p.services = services;
    return p;
  }

  void spawn() {
    sup = sys.spawn(supervisor_with_ports, settings, ports());
    auto listener = sys.spawn(collector, events);
    ask<engine_status>(sup, atom::subscribe_v, listener);
  }

  void start() {
    spawn();
    self->send(sup, atom::start_v);
    sched.run();
  }

  // Moves the clock in small steps, so timers set along the way fire too.
  void pass(caf::timespan total, caf::timespan step = 100ms) {
    for (caf::timespan t{0}; t < total; t += step)
      advance(step);
  }

  const engine_event& last() const { return events->back(); }

  // The last state change or reconnect attempt (what `status` shows).
  engine_event current() const {
    for (auto it = events->rbegin(); it != events->rend(); ++it)
      if (it->kind == event_kind::state_changed
          || it->kind == event_kind::reconnect_attempt
          || it->kind == event_kind::restart)
        return *it;
    return {};
  }

  std::vector<engine_event> of_kind(event_kind k) const {
    std::vector<engine_event> out;
    for (auto& e : *events)
      if (e.kind == k)
        out.push_back(e);
    return out;
  }

  std::string fault(const std::string& what) {
    std::string said;
    auto pending = self->request(sup, caf::infinite, atom::fault_v, what);
    sched.run();
    pending.receive([&](const std::string& s) { said = s; },
                    [&](const caf::error&) { said = "error"; });
    sched.run();
    return said;
  }

  config::settings settings;
  std::shared_ptr<script> sc = std::make_shared<script>();
  event_log events;
  fs::path crash_dir;
  supervisor_actor sup;
  std::vector<engine_service> services;
};

} // namespace

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

namespace {

// The flow-manager's jobs, which the hold tests keep back: a job is an
// actor, named by its state.
bool is_flow_manager(caf::resumable* job) {
  auto* a = dynamic_cast<caf::local_actor*>(job);
  return a != nullptr && std::strcmp(a->name(), "flow-manager") == 0;
}

bool not_flow_manager(caf::resumable* job) {
  return !is_flow_manager(job);
}

bool said_active(const std::vector<engine_event>& events) {
  return std::any_of(events.begin(), events.end(), [](const engine_event& e) {
    return e.kind == event_kind::state_changed
           && e.state == engine_state::active;
  });
}

} // namespace

// Active is said only once new connections meet it: the commands behind a
// new policy wait until the flow-manager answers that it (and every relay)
// has the policy. Everything else runs; the flow-manager is kept back.
TEST_F(supervisor_test, active_waits_until_the_flow_manager_has_the_policy) {
  spawn();
  self->send(sup, atom::start_v);
  sched.run_jobs_filtered(not_flow_manager);
  ASSERT_TRUE(
      std::any_of(sched.jobs.begin(), sched.jobs.end(), is_flow_manager))
      << "the flow-manager has the policy and the question waiting";
  EXPECT_FALSE(said_active(*events)) << "said before the policy is in force";
  EXPECT_EQ(current().state, engine_state::starting);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
}

// A flow-manager that does not answer within 3 s does not hold the engine
// up for ever: what waited runs, in order.
TEST_F(supervisor_test, a_silent_flow_manager_holds_active_for_3_s_at_most) {
  spawn();
  self->send(sup, atom::start_v);
  sched.run_jobs_filtered(not_flow_manager);
  sched.advance_time(2900ms);
  sched.run_jobs_filtered(not_flow_manager);
  EXPECT_FALSE(said_active(*events));
  sched.advance_time(100ms);
  sched.run_jobs_filtered(not_flow_manager);
  EXPECT_EQ(current().state, engine_state::active) << current().reason;
  auto said = events->size();
  sched.run(); // the late answer changes nothing
  EXPECT_EQ(events->size(), said);
}

// The guard keeps the targets captured from Start to Stop: no restart of
// the parts (a new proxy, Retry, a lost packet handle) lets it go, and no
// moment passes without it.
TEST_F(supervisor_test, the_guard_holds_from_start_to_stop_across_restarts) {
  start();
  ASSERT_EQ(sc->guards, 1);
  auto first = sc->guard;
  auto next = settings;
  next.proxies[0].port = 1081;
  self->send(sup, diff(settings, next));
  sched.run();
  EXPECT_EQ(sc->captures, 2);
  for (auto& e : *events)
    EXPECT_NE(e.state, engine_state::idle) << "a restart is not a Stop";
  EXPECT_EQ(fault("driver-lost"), "the packet handle fails");
  pass(3s);
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(fault("panic"), "the flow-manager throws");
  EXPECT_EQ(current().state, engine_state::failed);
  self->send(sup, atom::retry_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(sc->guards, 1);
  EXPECT_EQ(first->released, 0);
  self->send(sup, atom::stop_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::idle);
  EXPECT_EQ(first->released, 1) << "Stop takes the capture away";
  self->send(sup, atom::start_v);
  sched.run();
  EXPECT_EQ(sc->guards, 2) << "a new Start, a new guard";
}

TEST_F(supervisor_test, quit_releases_the_guard) {
  start();
  auto g = sc->guard;
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  EXPECT_EQ(g->released, 1);
  sup = nullptr;
}

// The watchdog puts back what someone removed and the Timeline says so.
TEST_F(supervisor_test, a_repaired_capture_is_on_the_timeline) {
  start();
  sc->guard->to_repair = "the capture rules had been removed";
  advance(1s);
  auto infos = of_kind(event_kind::info);
  ASSERT_FALSE(infos.empty());
  EXPECT_EQ(infos.back().reason,
            "put the capture back in place: the capture rules had been "
            "removed");
  EXPECT_EQ(current().state, engine_state::active) << "nothing else changes";
}

// The session is lent on to a UDP association, which ends later than the
// parts: the next session waits for the old one to be destroyed, as both
// use the same queue and rule chain.
TEST_F(supervisor_test, a_restart_waits_until_the_old_capture_is_gone) {
  start();
  ASSERT_EQ(current().state, engine_state::active);
  // Plays an association the flow-manager lent the session to.
  auto borrower = sys.spawn([]() -> caf::behavior {
    return {[](atom::stop) {
    }};
  });
  self->send(sup, atom::add_v, borrower);
  sched.run();
  auto next = settings;
  next.proxies[0].port = 1081;
  self->send(sup, diff(settings, next));
  sched.run();
  EXPECT_EQ(sc->captures, 1) << "opened while the old session lives";
  EXPECT_EQ(*sc->sessions_destroyed, 0) << "still lent";
  EXPECT_NE(current().state, engine_state::idle) << "the capture stays";
  self->send_exit(borrower, caf::exit_reason::user_shutdown);
  sched.run();
  EXPECT_EQ(*sc->sessions_destroyed, 1) << "the last borrower is down";
  EXPECT_EQ(sc->captures, 2);
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(current().reason, "proxying through proxy.test:1081");
}

// Stop destroys the session once its parts are down; one held across a
// restart of the parts is the same session, not a second one.
TEST_F(supervisor_test,
       the_session_is_destroyed_by_stop_and_kept_over_a_pause) {
  start();
  ASSERT_EQ(current().state, engine_state::active);
  EXPECT_EQ(*sc->sessions_destroyed, 0);
  self->send(sup, atom::stop_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::idle);
  EXPECT_EQ(*sc->sessions_destroyed, 1);
  EXPECT_EQ(sc->captures, 1);
  self->send(sup, atom::start_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(sc->captures, 2);
  EXPECT_EQ(*sc->sessions_destroyed, 1);
}

engine_listener_actor::behavior_type
counters_collector(engine_listener_actor::pointer,
                   std::shared_ptr<std::vector<stats_snapshot>> out) {
  return {[](const engine_event&) {},
          [=](const stats_snapshot& s) {
            out->push_back(s);
          }};
}

// The flow-manager pushes its counters each second; the supervisor adds
// what only it knows and passes them on. Nobody polls.
TEST_F(supervisor_test, the_counters_reach_the_listeners_each_second) {
  start();
  ASSERT_EQ(current().state, engine_state::active);
  auto got = std::make_shared<std::vector<stats_snapshot>>();
  ask<engine_status>(sup, atom::subscribe_v,
                     sys.spawn(counters_collector, got));
  advance(1s);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_NE(got->back().active_since, caf::timestamp{})
      << "the supervisor's own field is filled in";
  advance(1s);
  EXPECT_EQ(got->size(), 2u);
  // Stopped: no flow-manager, no counters.
  self->send(sup, atom::stop_v);
  run();
  auto before = got->size();
  advance(3s);
  EXPECT_EQ(got->size(), before);
}

TEST_F(supervisor_test, stop_while_reconnecting_ends_the_series) {
  sc->verdicts.assign(10, probe_verdict::unreachable);
  start();
  self->send(sup, atom::stop_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::idle);
  auto probes = sc->probed.size();
  advance(10min);
  EXPECT_EQ(sc->probed.size(), probes);
}

TEST_F(supervisor_test,
       sleep_between_a_lost_handle_and_its_reopen_waits_for_the_wake) {
  start();
  fault("driver-lost");
  ASSERT_EQ(current().state, engine_state::starting);
  auto pending = self->request(sup, caf::infinite, atom::sleep_v);
  sched.run();
  bool ready = false;
  pending.receive([&](bool b) { ready = b; }, [](const caf::error&) {});
  EXPECT_TRUE(ready);
  EXPECT_EQ(current().state, engine_state::paused);
  advance(10s);
  EXPECT_EQ(sc->captures, 1) << "no reopen while asleep";
  self->send(sup, atom::resume_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active);
  EXPECT_EQ(sc->captures, 2);
}

TEST_F(supervisor_test,
       capture_that_cannot_be_set_up_fails_with_the_repair_hint) {
  spawn();
  // Replace the opener: the packet machinery is missing.
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  auto p = ports();
  p.open_capture = [](const platform::capture_options&) {
    platform::capture_result r;
    r.failure = platform::capture_failure::unavailable;
    r.error = "binding packet queue: Operation not supported";
    return r;
  };
  sup = sys.spawn(supervisor_with_ports, settings, p);
  auto listener = sys.spawn(collector, events);
  auto pending = self->request(sup, caf::infinite, atom::subscribe_v, listener);
  sched.run();
  pending.receive([](const engine_status&) {}, [](const caf::error&) {});
  self->send(sup, atom::start_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::failed);
  EXPECT_EQ(current().failure, failure_class::driver_gone);
  EXPECT_NE(current().reason.find("Operation not supported. "),
            std::string::npos)
      << current().reason;
  EXPECT_NE(current().reason.find(platform::capture_repair_hint()),
            std::string::npos)
      << current().reason;
}

TEST_F(supervisor_test, an_unclassified_exit_is_failed) {
  start();
  EXPECT_EQ(fault("kill-procscan"), "procscan is killed");
  EXPECT_EQ(current().state, engine_state::failed);
  EXPECT_EQ(current().failure, failure_class::fatal);
  EXPECT_NE(current().reason.find("an engine part stopped"), std::string::npos)
      << current().reason;
  self->send(sup, atom::retry_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::active);
}

namespace {

// A stand-in service: an actor that does nothing; `spawned` sees each one
// started, `on_end` runs when one ends; `given` the config it was started
// with.
engine_service stand_in_service(
    std::string name, std::string without_it, bool last,
    std::function<void(caf::actor)> spawned,
    std::function<void()> on_end = [] {},
    std::function<void(const config::settings&)> given
    = [](const config::settings&) {}) {
  return {std::move(name), std::move(without_it), last,
          [spawned, on_end,
           given](caf::actor_system& system, const supervisor_actor&,
                  const config::settings& in_force, std::string&) {
            auto a = system.spawn([](caf::event_based_actor*) -> caf::behavior {
              return {[](int) {
              }};
            });
            a->attach_functor(on_end);
            given(in_force);
            spawned(a);
            return caf::actor{a};
          }};
}

} // namespace

// A service (config watcher, power monitor, control server) that stops by
// itself is started again and said; a third stop within a minute is said
// and left alone; the engine's state does not change either way.
TEST_F(supervisor_test, a_service_that_stops_is_started_again_then_left) {
  auto spawned = std::make_shared<std::vector<caf::actor>>();
  services.push_back(
      stand_in_service("the test service", "nothing is watched", false,
                       [spawned](caf::actor a) { spawned->push_back(a); }));
  start();
  ASSERT_EQ(spawned->size(), 1u);
  auto kill_latest = [&] {
    caf::anon_send_exit(spawned->back(), caf::exit_reason::unhandled_exception);
    sched.run();
  };
  kill_latest();
  ASSERT_EQ(spawned->size(), 2u);
  EXPECT_NE(last().reason.find("the test service stopped ("), std::string::npos)
      << last().reason;
  EXPECT_NE(last().reason.find("started again"), std::string::npos);
  kill_latest();
  ASSERT_EQ(spawned->size(), 3u);
  kill_latest();
  EXPECT_EQ(spawned->size(), 3u); // left alone
  EXPECT_NE(last().reason.find("stopped again"), std::string::npos);
  EXPECT_NE(last().reason.find("nothing is watched"), std::string::npos);
  EXPECT_EQ(current().state, engine_state::active);
}

// A service started again after it stopped takes the config in force, not
// the engine's start's: the metrics endpoint moved by a config change
// listens at its new address after a crash too.
TEST_F(supervisor_test, a_service_started_again_takes_the_config_in_force) {
  auto spawned = std::make_shared<std::vector<caf::actor>>();
  auto given = std::make_shared<std::vector<std::string>>();
  services.push_back(stand_in_service(
      "the metrics endpoint", "", false,
      [spawned](caf::actor a) { spawned->push_back(a); }, [] {},
      [given](const config::settings& s) {
        given->push_back(s.metrics.listen ? s.metrics.listen->text() : "off");
      }));
  settings.metrics.listen = config::parse_host_port("127.0.0.1:9464");
  start();
  auto moved = std::make_shared<config::settings>(settings);
  moved->metrics.listen = config::parse_host_port("127.0.0.1:9500");
  config_changed change;
  change.settings = moved;
  change.metrics_changed = true;
  self->send(sup, change);
  sched.run();
  caf::anon_send_exit(spawned->back(), caf::exit_reason::unhandled_exception);
  sched.run();
  ASSERT_EQ(spawned->size(), 2u);
  EXPECT_EQ(*given,
            (std::vector<std::string>{"127.0.0.1:9464", "127.0.0.1:9500"}));
}

TEST_F(supervisor_test, services_stop_before_the_engine_and_the_last_after) {
  auto order = std::make_shared<std::vector<std::string>>();
  auto service = [&](std::string name, bool last) {
    return stand_in_service(
        name, "", last, [](caf::actor) {},
        [order, name, s = sc] {
          bool released = s->guard && s->guard->released > 0;
          order->push_back(name + (released ? " after the release" : ""));
        });
  };
  services.push_back(service("input", false));
  services.push_back(service("control", true));
  start();
  ASSERT_EQ(current().state, engine_state::active);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  sup = nullptr;
  EXPECT_EQ(*order,
            (std::vector<std::string>{"input", "control after the release"}));
}

// A supervisor that ends other than by Quit (a panic, a kill) takes its
// services along: nothing is left to keep the process alive.
TEST_F(supervisor_test, services_end_with_a_supervisor_that_is_killed) {
  auto ended = std::make_shared<int>(0);
  services.push_back(stand_in_service(
      "the test service", "", false, [](caf::actor) {}, [ended] { ++*ended; }));
  start();
  ASSERT_EQ(*ended, 0);
  self->send_exit(sup, caf::exit_reason::kill);
  run();
  sup = nullptr;
  EXPECT_EQ(*ended, 1);
}

// Every [proxy] key the sessions and associations use reaches them: the
// UDP association's set-up has its own limit, not the TCP connect's.
TEST(engine_parts, the_upstream_carries_both_timeouts_and_the_login) {
  config::proxy_settings p;
  p.port = 1081;
  p.auth = true;
  p.login = "alice";
  p.password = "secret";
  p.tcp_connect_timeout = 7s;
  p.udp_associate_timeout = 1500ms;
  auto up = upstream_of(p, *net::parse_ipv4("10.0.0.9"));
  EXPECT_EQ(net::to_string(up.proxy.ip), "10.0.0.9");
  EXPECT_EQ(up.proxy.port, 1081);
  EXPECT_TRUE(up.auth);
  EXPECT_EQ(up.login, "alice");
  EXPECT_EQ(up.password, "secret");
  EXPECT_EQ(up.connect_timeout, 7s);
  EXPECT_EQ(up.udp_associate_timeout, 1500ms);
}
