// The supervisor (supervisor_world.hpp): the engine's parts (Active only
// once the flow-manager has the policy, restarts, the guard from Start to
// Stop, the counters) and the services it keeps running.

#include "tests/actors/supervisor_world.hpp"

using namespace drover;
using namespace drover::test::supervisor_world;

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

// The OS refusing to take the capture away at Stop leaves the targets
// blocked: the Timeline says so, and what to do.
TEST_F(supervisor_test, a_release_the_os_refused_is_on_the_timeline) {
  start();
  sc->guard->fail_release = "Windows Filtering Platform: removing a block "
                            "failed: access denied";
  self->send(sup, atom::stop_v);
  sched.run();
  EXPECT_EQ(current().state, engine_state::idle);
  auto infos = of_kind(event_kind::info);
  ASSERT_FALSE(infos.empty());
  EXPECT_EQ(infos.back().reason,
            "stopped, but not all that keeps the chosen programs offline "
            "could be removed (Windows Filtering Platform: removing a block "
            "failed: access denied): they may stay offline. Choose Start and "
            "then Stop again, or quit Drover and run `drover unblock` as "
            "administrator (root on Linux), or restart the computer");
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
