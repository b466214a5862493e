#include "actors/supervisor.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/crash_report.hpp"
#include "actors/fault_hooks.hpp"
#include "actors/guard_watch.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/sockets.hpp"
#include "actors/proxy_check.hpp"
#include "messages/recovery.hpp"

namespace drover {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

void run(self_ptr self, const engine_commands& commands);

void publish(self_ptr self, engine_event e) {
  auto& st = self->state;
  e.time = caf::make_timestamp();
  if (e.kind == event_kind::state_changed
      || e.kind == event_kind::reconnect_attempt
      || e.kind == event_kind::restart)
    st.last = e; // what `status` shows as the state
  st.recent.push_back(e);
  while (st.recent.size() > supervisor_state::recent_events)
    st.recent.pop_front();
  auto level = e.state == engine_state::failed      ? spdlog::level::err
               : e.kind == event_kind::config_error ? spdlog::level::warn
                                                    : spdlog::level::info;
  log::get(self->name())->log(level, "{}: {}", label(e), e.reason);
  trace::record(self->name(), to_string(e.kind),
                {{"state", to_string(e.state)},
                 {"reason", e.reason},
                 {"failure", to_string(e.failure)},
                 {"attempt", e.attempt}});
  for (auto& l : st.listeners)
    self->send(l, e);
}

// An event that does not change the state (the Timeline's "info").
void say(self_ptr self, event_kind kind, std::string text) {
  engine_event e;
  e.kind = kind;
  e.state = self->state.last.state;
  e.reason = std::move(text);
  publish(self, std::move(e));
}

engine_status status_of(const supervisor_state& st) {
  engine_status s;
  s.last = st.last;
  s.stats = st.stats;
  s.recent.assign(st.recent.begin(), st.recent.end());
  return s;
}

// The flow-manager's counters, with what only the supervisor knows.
void take_stats(supervisor_state& st, stats_snapshot s) {
  s.active_since = st.stats.active_since;
  s.no_traffic = st.traffic.no_traffic();
  if (st.guard) {
    auto c = st.guard->counters();
    s.packets_fenced = c.packets_fenced;
    s.connections_reset += c.connections_reset;
  }
  st.stats = s;
}

// A child's exit reason in words: the engine's own errors carry a sentence.
std::string describe_failure(self_ptr self, const caf::error& reason) {
  auto& ctx = reason.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return self->system().render(reason);
}

// The guard's watchdog (blocking checks: on a thread of its own).
void spawn_watchdog(self_ptr self) {
  auto& st = self->state;
  auto& sys = self->system();
  auto parent = supervisor_actor{self};
  st.watchdog = st.ports.watch_on_own_thread
                    ? sys.spawn<caf::detached>(guard_watch, st.guard, parent,
                                               st.ports.guard_check_interval)
                    : sys.spawn(guard_watch, st.guard, parent,
                                st.ports.guard_check_interval);
  self->monitor(st.watchdog);
}

void release_guard(self_ptr self) {
  auto& st = self->state;
  if (st.watchdog) {
    self->demonitor(st.watchdog.address());
    self->send_exit(st.watchdog, caf::exit_reason::user_shutdown);
    st.watchdog = nullptr;
  }
  if (st.guard) {
    st.guard->release();
    st.guard.reset();
  }
}

// The guard first (from here on the targets' traffic goes through the
// proxy or nowhere, until Stop), then the session and the parts.
void start_parts(self_ptr self) {
  auto& st = self->state;
  auto& proxy = st.settings.proxy;
  std::string error;
  auto proxy_ip = st.ports.resolve(proxy.host, error);
  if (!proxy_ip) {
    // No network yet (a start at login, say): capture anyway, failing
    // closed; the proxy check looks the name up again on every attempt and
    // restarts on the address once it is found.
    log::get(self->name())->warn("cannot find the proxy: {}", error);
    proxy_ip = net::ipv4_address{0};
  }
  if (!st.guard) {
    auto g = open_capture_guard(st.ports, st.settings, *proxy_ip);
    if (!g.guard)
      return run(self,
                 st.machine.on_start_failed(
                     g.failure == platform::capture_failure::not_permitted
                         ? failure_class::fatal
                         : failure_class::driver_gone,
                     g.failure == platform::capture_failure::not_permitted
                         ? g.error
                         : g.error + ". " + platform::capture_repair_hint()));
    st.guard = std::move(g.guard);
    log::get(self->name())
        ->info("capture guard in place: {}", st.guard->description());
    spawn_watchdog(self);
  }
  auto addr = self->address();
  auto r
      = spawn_engine_parts(self->system(), st.ports, st.settings, st.guard,
                           *proxy_ip, supervisor_actor{self}, [addr] {
                             if (auto sup = caf::actor_cast<caf::actor>(addr))
                               caf::anon_send(sup, atom::closed_v);
                           });
  if (r.failure != failure_class::none)
    return run(self, st.machine.on_start_failed(r.failure, r.error));
  st.parts = std::move(r.parts);
  for (auto& a : st.parts.actors()) {
    self->monitor(a);
    st.parts.up.push_back(a.address());
  }
  st.stats = {};
  st.named_targets_running = false; // the new procscan says
  run(self, st.machine.on_parts_started(proxy_ip->value));
}

// Every part is down: the handles go, the session only if the machine
// says so (a held capture keeps the queue: fail closed).
void parts_down(self_ptr self) {
  auto& st = self->state;
  auto capture = std::move(st.parts.capture);
  st.parts = {};
  st.parts.capture = std::move(capture);
  run(self, st.machine.on_parts_stopped());
}

// Checks the proxy on a thread of its own (blocking calls: name lookup,
// connect); the result comes back as a proxy_check.
void check_proxy(self_ptr self) {
  auto& st = self->state;
  platform::probe_request req;
  req.proxy = st.parts.upstream.proxy;
  req.auth = st.settings.proxy.auth;
  req.login = st.settings.proxy.login;
  req.password = st.settings.proxy.password;
  req.budget = std::chrono::seconds{2};
  auto host = st.settings.proxy.host;
  trace::record(self->name(), "check-proxy",
                {{"proxy", host}, {"port", req.proxy.port}});
  if (!st.ports.probe_on_own_thread) {
    self->send(self,
               run_proxy_check(st.ports.probe, st.ports.resolve, req, host));
    return;
  }
  auto sup = caf::actor_cast<caf::actor>(self);
  auto ports = st.ports;
  self->system().spawn<caf::detached>([ports, req, host,
                                       sup](caf::event_based_actor*) {
    caf::anon_send(sup, run_proxy_check(ports.probe, ports.resolve, req, host));
  });
}

void answer_sleepers(self_ptr self) {
  for (auto& rp : self->state.sleep_waiters)
    rp.deliver(true);
  self->state.sleep_waiters.clear();
}

void stop_services(self_ptr self, bool last) {
  for (size_t i = 0; i < self->state.services.size(); ++i) {
    auto& s = self->state.services[i];
    if (s.actor && self->state.ports.services[i].stops_last == last) {
      self->demonitor(s.actor.address());
      self->send_exit(s.actor, caf::exit_reason::user_shutdown);
      s.actor = nullptr;
    }
  }
}

void execute(self_ptr self, const engine_command& c) {
  auto& st = self->state;
  switch (c.kind) {
    case command_kind::publish:
      if (c.event.kind == event_kind::state_changed
          && c.event.state == engine_state::active) {
        st.stats.active_since = caf::make_timestamp();
        st.traffic.on_active(self->clock().now());
      }
      return publish(self, c.event);
    case command_kind::start_parts:
      return start_parts(self);
    case command_kind::stop_parts:
      for (auto& a : st.parts.actors())
        self->send_exit(a, caf::exit_reason::user_shutdown);
      if (st.parts.up.empty())
        parts_down(self);
      return;
    case command_kind::release_capture:
      st.parts.capture.reset();
      return;
    case command_kind::release_guard:
      return release_guard(self);
    case command_kind::check_proxy:
      return check_proxy(self);
    case command_kind::new_flows:
      if (st.parts.flow_manager)
        self->send(st.parts.flow_manager, atom::update_v,
                   c.proxying ? new_flow_policy::proxy
                              : not_proxying_policy(st.settings));
      return;
    case command_kind::end_flows:
      if (!st.parts.flow_manager)
        return answer_sleepers(self);
      self->send(st.parts.flow_manager, atom::update_v, new_flow_policy::drop);
      self->request(st.parts.flow_manager, std::chrono::seconds{2},
                    atom::reset_v)
          .then([=](uint32_t) { answer_sleepers(self); },
                [=](caf::error&) { answer_sleepers(self); });
      return;
    case command_kind::answer_sleepers:
      return answer_sleepers(self);
    case command_kind::retry_after:
      self->delayed_send(self, c.delay, atom::retry_v, c.operation);
      return;
    case command_kind::look_for_network:
      if (c.delay.count() == 0)
        self->send(self, atom::resume_v, c.looks);
      else
        self->delayed_send(self, c.delay, atom::resume_v, c.looks);
      return;
    case command_kind::quit:
      stop_services(self, true);
      return self->quit(st.quit_reason);
  }
}

void run(self_ptr self, const engine_commands& commands) {
  for (auto& c : commands)
    execute(self, c);
}

// A part died on its own: never silently ignored. A panic writes the crash
// report first, then Failed says where it is.
void on_part_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  auto failure = classify(reason);
  auto why = describe_failure(self, reason);
  if (failure == failure_class::panic) {
    auto r = assemble_crash_report(panic_of(reason), why, st.recent);
    std::string error;
    auto path = write_crash_report(
        crash_report_dir(st.ports.crash_dir, r.log_file), r, error);
    if (path.empty())
      log::get(self->name())->error("{}", error);
    why = "an engine part failed: " + r.panic.actor + " (" + r.panic.what
          + "); "
          + (path.empty() ? error : "a crash report is in " + path.string())
          + "; choose Retry to start again";
  }
  run(self, st.machine.on_part_down(failure, why, self->clock().now()));
}

void spawn_service(self_ptr self, size_t i) {
  auto& st = self->state;
  auto& s = st.ports.services[i];
  std::string error;
  auto a = s.spawn(self->system(), supervisor_actor{self}, error);
  if (!a) {
    say(self, event_kind::info,
        "cannot start " + s.name + " (" + error + "): " + s.without_it);
    return;
  }
  self->monitor(a);
  st.services[i].actor = a;
}

// A service stopped by itself: started again, and said; twice within a
// minute means it would only fail again, which is said too.
bool on_service_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (size_t i = 0; i < st.services.size(); ++i) {
    auto& s = st.services[i];
    if (!s.actor || s.actor.address() != dm.source)
      continue;
    s.actor = nullptr;
    auto& info = st.ports.services[i];
    auto now = self->clock().now();
    auto& r = s.restarts;
    r.erase(std::remove_if(
                r.begin(), r.end(),
                [&](auto t) { return now - t > std::chrono::minutes{1}; }),
            r.end());
    auto why = describe_failure(self, dm.reason);
    if (r.size() >= 2) {
      say(self, event_kind::info,
          info.name + " stopped again (" + why + "): " + info.without_it);
      return true;
    }
    r.push_back(now);
    say(self, event_kind::restart,
        info.name + " stopped (" + why + "); started again");
    spawn_service(self, i);
    return true;
  }
  return false;
}

recovery_timing timing_of(const config::engine_settings& e) {
  recovery_timing t;
  t.backoff_initial = e.reconnect_backoff_initial;
  t.backoff_max = e.reconnect_backoff_max;
  t.backoff_total = e.reconnect_total_cap;
  return t;
}

// A new config is in force. [proxy] moves the engine onto the new proxy
// (a restart, when it runs); [targets] go to the guard and procscan live;
// the log level was applied by the config-watcher; the rest applies at the
// next start, which the event says.
void on_config_changed(self_ptr self, const config_changed& c) {
  auto& st = self->state;
  if (!c.settings)
    return;
  st.settings = *c.settings;
  std::string applied;
  auto& targets = st.settings.targets;
  if (c.targets_changed) {
    std::string error;
    platform::target_selection t;
    t.names = config::effective_process_names(targets);
    if (st.guard && !st.guard->set_targets(t, error))
      log::get(self->name())->error("new targets: {}", error);
    if (st.parts.flow_manager && st.last.state != engine_state::active
        && st.last.state != engine_state::paused)
      self->send(st.parts.flow_manager, atom::update_v,
                 not_proxying_policy(st.settings)); // it may have changed
    if (st.parts.scanner)
      self->send(st.parts.scanner, atom::update_v, t.names);
    applied = "[targets]";
  }
  if (c.ui_changed)
    applied += applied.empty() ? "[ui]" : ", [ui]";
  std::string later = c.engine_changed && c.skip_changed ? "[engine], [skip]"
                      : c.engine_changed                 ? "[engine]"
                      : c.skip_changed                   ? "[skip]"
                                                         : "";
  auto& proxy = st.settings.proxy;
  bool running = st.machine.parts_running();
  std::string text = "the config file changed";
  if (!applied.empty())
    text += "; applied " + applied;
  if (c.proxy_changed)
    text += "; the proxy is now " + proxy.host + ":"
            + std::to_string(proxy.port)
            + (running ? ": restarting the engine" : "");
  else if (!later.empty() && running)
    text += "; " + later + " apply at the next start";
  say(self, event_kind::config_applied, text);
  run(self,
      st.machine.on_config(c.proxy_changed, proxy.host, proxy.port,
                           c.engine_changed, timing_of(st.settings.engine)));
}

void init(self_ptr self, config::settings settings, supervisor_ports ports) {
  auto& st = self->state;
  st.ports = std::move(ports);
  st.settings = std::move(settings);
  st.machine = engine_machine{timing_of(st.settings.engine),
                              st.settings.proxy.host, st.settings.proxy.port};
  st.last.time = caf::make_timestamp();
  st.services.resize(st.ports.services.size());
  for (size_t i = 0; i < st.services.size(); ++i)
    spawn_service(self, i);
}

} // namespace

supervisor_ports supervisor_ports::platform_defaults() {
  supervisor_ports p;
  p.open_guard = platform::open_guard;
  p.open_capture = platform::open_capture;
  p.probe = platform::probe_proxy;
  p.resolve = platform::resolve_ipv4;
  p.has_route = platform::has_route_to;
  return p;
}

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           config::settings settings) {
  return supervisor_with_ports(self, std::move(settings),
                               supervisor_ports::platform_defaults());
}

supervisor_actor::behavior_type
supervisor_with_ports(supervisor_actor::stateful_pointer<supervisor_state> self,
                      config::settings settings, supervisor_ports ports) {
  report_panics(self);
  init(self, std::move(settings), std::move(ports));
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.watchdog && dm.source == st.watchdog.address()) {
      // Never without one while the guard holds.
      say(self, event_kind::info,
          "the capture watchdog stopped (" + describe_failure(self, dm.reason)
              + "); started again");
      spawn_watchdog(self);
      return;
    }
    auto& up = st.parts.up;
    if (auto it = std::find(up.begin(), up.end(), dm.source); it != up.end()) {
      up.erase(it);
      if (st.machine.phase() != engine_phase::stopping)
        on_part_down(self, dm.reason);
      else if (up.empty())
        parts_down(self);
      return;
    }
    if (on_service_down(self, dm))
      return;
    auto& ls = st.listeners;
    ls.erase(std::remove_if(ls.begin(), ls.end(),
                            [&](const engine_listener_actor& l) {
                              return l.address() == dm.source;
                            }),
             ls.end());
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // Shut down in stages: what brings new input first, then the engine
    // (rules removed), then the control server, then this actor.
    self->state.quit_reason = msg.reason;
    stop_services(self, false);
    run(self, self->state.machine.on_quit());
  });
  self->delayed_send(self, std::chrono::seconds{1}, atom::stats_v);
  self->delayed_send(self, self->state.settings.engine.heartbeat_interval,
                     atom::heartbeat_v);
  auto machine = [=]() -> engine_machine& {
    return self->state.machine;
  };
  return {
      [=](atom::start) { run(self, machine().on_start()); },
      [=](atom::closed) { run(self, machine().on_session_gone()); },
      [=](atom::stop) { run(self, machine().on_stop()); },
      [=](atom::retry) { run(self, machine().on_retry()); },
      [=](atom::check, const std::string& why) {
        if (machine().phase() != engine_phase::active || machine().checking())
          return;
        log::get(self->name())
            ->info("a connection could not use the proxy ({}); checking it",
                   why);
        run(self, machine().on_check_wanted());
      },
      [=](const proxy_check& c) {
        check_result r{c.ok, c.failure, c.reason, c.proxy_ip};
        run(self, machine().on_check(r, self->clock().now()));
      },
      [=](atom::retry, uint64_t operation) {
        run(self, machine().on_timer(operation));
      },
      [=](atom::fault, const std::string& what) -> std::string {
        return inject_fault(self->state.parts, self->state.listeners,
                            self->state.last.state, what);
      },
      [=](atom::subscribe, engine_listener_actor l) {
        self->monitor(l);
        self->state.listeners.push_back(l);
        return status_of(self->state);
      },
      [=](atom::get, atom::status) -> caf::result<engine_status> {
        // Fresh counters from the flow-manager, not the last second's.
        if (!self->state.parts.flow_manager)
          return status_of(self->state);
        auto rp = self->make_response_promise<engine_status>();
        self->request(self->state.parts.flow_manager, std::chrono::seconds{2},
                      atom::get_v, atom::stats_v)
            .then(
                [=](stats_snapshot s) mutable {
                  take_stats(self->state, std::move(s));
                  rp.deliver(status_of(self->state));
                },
                [=](caf::error&) mutable {
                  rp.deliver(status_of(self->state));
                });
        return rp;
      },
      [=](atom::get, atom::flows) -> caf::result<std::vector<flow_descriptor>> {
        if (!self->state.parts.flow_manager)
          return std::vector<flow_descriptor>{};
        return self->delegate(self->state.parts.flow_manager, atom::get_v,
                              atom::flows_v);
      },
      [=](atom::spawn, std::vector<std::string> argv) -> caf::result<int64_t> {
        auto& st = self->state;
        if (!st.parts.capture || st.last.state != engine_state::active)
          return caf::make_error(ec::unspecified, "the engine is not active");
        std::string error;
        auto pid = st.parts.capture->spawn_target(argv, error);
        if (pid < 0)
          return caf::make_error(ec::unspecified,
                                 "cannot start " + argv.front() + ": " + error);
        st.spawned_target = true;
        say(self, event_kind::info,
            "started " + argv.front() + " (pid " + std::to_string(pid)
                + ") as a target");
        return static_cast<int64_t>(pid);
      },
      [=](process_set& ps) {
        self->state.named_targets_running = !ps.processes.empty();
        if (self->state.parts.flow_manager)
          self->send(self->state.parts.flow_manager, ps);
      },
      [=](atom::heartbeat) {
        auto& st = self->state;
        auto said = st.traffic.on_heartbeat(
            st.last.state == engine_state::active,
            st.stats.bytes_in + st.stats.bytes_out,
            st.named_targets_running || st.spawned_target, self->clock().now(),
            st.settings.engine.no_traffic_warn_after);
        st.stats.no_traffic = st.traffic.no_traffic();
        if (!said.empty())
          say(self, event_kind::info, said);
        self->delayed_send(self, st.settings.engine.heartbeat_interval,
                           atom::heartbeat_v);
      },
      [=](atom::sleep) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        self->state.sleep_waiters.push_back(rp);
        run(self, machine().on_sleep());
        return rp;
      },
      [=](atom::resume) { run(self, machine().on_wake()); },
      [=](atom::resume, uint32_t looks) {
        auto route = self->state.ports.has_route(
            net::ipv4_address{machine().proxy_ip()});
        run(self, machine().on_network(route, looks));
      },
      [=](const config_changed& c) { on_config_changed(self, c); },
      [=](config_error& e) { say(self, event_kind::config_error, e.message); },
      [=](atom::repair, const std::string& what) {
        say(self, event_kind::info, what);
      },
      [=](atom::stats) {
        // Keep the counters fresh for `status` and the listeners.
        if (self->state.parts.flow_manager)
          self->request(self->state.parts.flow_manager, std::chrono::seconds{1},
                        atom::get_v, atom::stats_v)
              .then(
                  [=](stats_snapshot s) {
                    take_stats(self->state, std::move(s));
                    for (auto& l : self->state.listeners)
                      self->send(l, self->state.stats);
                  },
                  [](caf::error&) {});
        self->delayed_send(self, std::chrono::seconds{1}, atom::stats_v);
      },
  };
}

} // namespace drover
