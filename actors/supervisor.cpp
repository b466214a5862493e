#include "actors/supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/check_report.hpp"
#include "actors/crash_report.hpp"
#include "actors/fault_hooks.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/proxy_check.hpp"
#include "actors/supervisor_run.hpp"
#include "messages/recovery.hpp"

namespace drover {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

void run(self_ptr self, const engine_commands& commands);

// Each proxy's health, for `status` and the tray.
std::vector<proxy_row> proxy_rows(const engine_machine& m) {
  std::vector<proxy_row> out;
  for (auto& h : m.proxies())
    out.push_back({h.ref.name, h.ref.host, h.ref.port, to_string(h.phase),
                   h.tcp_only, h.attempt, h.reason});
  return out;
}

// Which proxies can be used now.
std::vector<bool> proxies_up(const engine_machine& m) {
  std::vector<bool> out;
  for (auto& h : m.proxies())
    out.push_back(h.phase == proxy_phase::up);
  return out;
}

void say(self_ptr self, event_kind kind, std::string text) {
  self->state.timeline.say(self->name(), kind, std::move(text));
}

// The flow-manager's counters, with what only the supervisor knows.
void take_stats(supervisor_state& st, stats_snapshot s) {
  s.active_since = st.stats.active_since;
  if (auto* session = st.session.get()) {
    auto sorted = session->sorting();
    s.packets_passed = sorted.passed;
    s.packets_held = sorted.held;
    s.packets_unowned_passed = sorted.unowned_passed;
    s.packets_unowned_dropped = sorted.unowned_dropped;
  }
  s.no_traffic = st.traffic.no_traffic();
  st.hold.add_counters(s);
  st.lifetime.observe(s);
  st.stats = s;
}

// The lifetime totals to stats.json: every minute (`now_anyway`: at once).
void keep_lifetime(self_ptr self, bool now_anyway) {
  std::string said;
  self->state.lifetime.save(lifetime_store::clock::now(), now_anyway, said);
  if (!said.empty())
    log::get(self->name())->warn("{}", said);
}

// What ends with this actor however it ends (a panic too): the running
// parts, the services and the watchdog; nothing it started may outlive it
// and keep the process alive.
void keep_companions(self_ptr self) {
  auto& st = self->state;
  auto& c = *st.companions;
  c = st.parts.actors();
  for (auto& a : st.services.actors())
    c.push_back(a);
  if (st.hold.watchdog)
    c.push_back(caf::actor_cast<caf::actor>(st.hold.watchdog));
}

// The guard first (from here on the targets' traffic goes through the
// proxy or nowhere, until Stop), then the session and the parts.
void start_parts(self_ptr self) {
  auto& st = self->state;
  // No network yet (a start at login, say): capture anyway, failing
  // closed; the proxy check looks the name up again on every attempt and
  // restarts on the address once it is found.
  std::vector<std::string> not_found;
  auto proxy_ips = resolve_proxies(st.settings, st.ports.resolve, not_found);
  for (auto& why : not_found)
    log::get(self->name())->warn("{}", why);
  auto g = st.hold.open(self, supervisor_actor{self}, st.ports, st.settings,
                        proxy_ips);
  keep_companions(self); // its watchdog, from now on
  if (!g.guard)
    return run(self, st.machine.on_start_failed(g.failure, g.error));
  auto r = spawn_engine_parts(self->system(), st.ports, st.settings,
                              st.hold.guard, proxy_ips, supervisor_actor{self});
  if (r.failure != failure_class::none)
    return run(self, st.machine.on_start_failed(r.failure, r.error));
  st.session.hold(std::move(r.session));
  st.parts = std::move(r.parts);
  watch_parts(self, st.parts);
  for (auto& a : st.parts.actors())
    st.session.lend(a.address());
  keep_companions(self);
  st.stats = {};
  st.lifetime.new_run();
  st.named_targets_running = false; // the new procscan says
  st.targets.clear();
  std::vector<uint32_t> ips;
  for (auto ip : proxy_ips)
    ips.push_back(ip.value);
  run(self, st.machine.on_parts_started(ips));
}

// Every part is down: the handles go, the session only if the machine
// says so (a held capture keeps the queue: fail closed).
void parts_down(self_ptr self) {
  auto& st = self->state;
  st.parts = {};
  keep_companions(self);
  run(self, st.machine.on_parts_stopped());
}

// Checks proxy `i` on a thread of its own (blocking calls: name lookup,
// connect); the result comes back as a proxy_check.
void check_proxy(self_ptr self, uint32_t i) {
  auto& st = self->state;
  if (i >= st.settings.proxies.size() || i >= st.parts.upstreams.size())
    return;
  auto& proxy = st.settings.proxies[i];
  auto req = proxy_check_request(proxy, st.parts.upstreams[i].proxy);
  trace::record(self->name(), "check-proxy",
                {{"proxy", proxy.host}, {"port", req.proxy.port}});
  start_proxy_check(self->system(), st.ports.probe, st.ports.resolve, req,
                    proxy.host, caf::actor_cast<caf::actor>(self),
                    st.ports.probe_on_own_thread, i);
}

// Fresh counters from the flow-manager (if it answers within 2 s), then
// `done()`.
void with_fresh_stats(self_ptr self, std::function<void()> done) {
  auto fm = self->state.parts.flow_manager;
  if (!fm)
    return done();
  self->request(fm, std::chrono::seconds{2}, atom::get_v, atom::stats_v)
      .then(
          [=](stats_snapshot s) {
            take_stats(self->state, std::move(s));
            done();
          },
          [=](caf::error&) { done(); });
}

void answer_sleepers(self_ptr self) {
  for (auto& rp : self->state.sleep_waiters)
    rp.deliver(true);
  self->state.sleep_waiters.clear();
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
      return st.timeline.publish(self->name(), c.event);
    case command_kind::start_parts:
      return start_parts(self);
    case command_kind::stop_parts:
      keep_lifetime(self, true);
      for (auto& a : st.parts.actors())
        self->send_exit(a, caf::exit_reason::user_shutdown);
      if (st.parts.up.empty())
        parts_down(self);
      return;
    case command_kind::release_capture:
      if (auto* session = st.session.get())
        if (auto what = session->summary(); !what.empty())
          log::get("supervisor")->info("{}", what);
      if (st.session.release()) // destroyed: the machine hears of it after
        self->send(self, atom::closed_v); // the commands under way
      return;
    case command_kind::release_guard:
      // The targets were to go direct; if the OS keeps some of Drover's
      // blocks, they stay offline, and the user must hear why and what to
      // do (the log too: at Quit nobody reads the Timeline).
      if (auto problem = st.hold.release(self); !problem.empty()) {
        log::get("supervisor")->error("releasing the capture: {}", problem);
        say(self, event_kind::info,
            "stopped, but not all that keeps the chosen programs offline "
            "could be removed ("
                + problem
                + "): they may stay offline. Choose Start and then Stop "
                  "again, or quit Drover and run `drover unblock` as "
                  "administrator (root on Linux), or restart the computer");
      }
      return;
    case command_kind::check_proxy:
      return check_proxy(self, c.proxy);
    case command_kind::new_flows: {
      if (!st.parts.flow_manager)
        return;
      auto count = static_cast<uint32_t>(st.settings.proxies.size());
      for (uint32_t i = 0; i < count; ++i) {
        if (!c.every_proxy && i != c.proxy)
          continue;
        auto fallback = not_proxying_policy(st.settings, i);
        flow_policy p{c.proxying ? new_flow_policy::proxy : fallback,
                      c.udp_proxying ? new_flow_policy::proxy : fallback};
        // New sockets of rules whose fallback is direct go direct from
        // their creation while their proxy cannot be used (Linux, in the
        // kernel); sockets made before follow `p`.
        if (auto* guard = st.hold.guard.get())
          guard->set_proxying(i, c.proxying, c.udp_proxying);
        if (count == 1)
          self->send(st.parts.flow_manager, atom::update_v, p);
        else
          self->send(st.parts.flow_manager, atom::update_v, i, p);
      }
      return;
    }
    case command_kind::end_flows:
      if (!st.parts.flow_manager)
        return answer_sleepers(self);
      // The sessions' listener keeps spare proxy connections, which the
      // sleep may leave dead (a kernel relay's go with its streams, on the
      // flow-manager's reset).
      if (st.parts.relays.empty() && st.parts.listener)
        caf::anon_send(st.parts.listener, atom::reset_v);
      self->send(st.parts.flow_manager, atom::update_v,
                 flow_policy::both(new_flow_policy::drop));
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
      st.services.stop(self, true); // the control server, last
      return self->quit(st.quit_reason);
  }
}

void run(self_ptr self, const engine_commands& commands);

// The policy is in force (or the flow-manager did not say so within 3 s):
// what waited behind it runs, in order.
void release_held(self_ptr self) {
  auto& st = self->state;
  st.policy_pending = false;
  auto rest = std::move(st.held);
  st.held.clear();
  run(self, rest);
}

void run(self_ptr self, const engine_commands& commands) {
  auto& st = self->state;
  if (st.policy_pending) { // behind a policy still on its way, in order
    st.held.insert(st.held.end(), commands.begin(), commands.end());
    return;
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    execute(self, commands[i]);
    if (commands[i].kind != command_kind::new_flows || !st.parts.flow_manager)
      continue;
    st.policy_pending = true;
    st.held.assign(commands.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                   commands.end());
    self->request(st.parts.flow_manager, std::chrono::seconds{3}, atom::get_v,
                  atom::status_v)
        .then([=](bool) { release_held(self); },
              [=](caf::error&) { release_held(self); });
    return;
  }
}

// A part died on its own: never silently ignored. A panic writes the crash
// report first, then Failed says where it is.
void on_part_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  auto failure = classify(reason);
  auto why = describe_exit(self->system(), reason);
  if (failure == failure_class::panic)
    why = report_panic(panic_of(reason), why, st.timeline.recent(),
                       st.ports.crash_dir);
  run(self, st.machine.on_part_down(failure, why, self->clock().now()));
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  if (st.session.on_down(dm.source)) // its last borrower ended
    self->send(self, atom::closed_v);
  if (st.hold.watchdog && dm.source == st.hold.watchdog.address()) {
    // Never without one while the guard holds.
    say(self, event_kind::info,
        "the capture watchdog stopped ("
            + describe_exit(self->system(), dm.reason) + "); started again");
    st.hold.watch(self, supervisor_actor{self}, st.ports);
    return keep_companions(self);
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
  if (st.services.on_down(self, supervisor_actor{self}, dm,
                          describe_exit(self->system(), dm.reason), st.settings,
                          st.timeline.speaker(self->name())))
    return keep_companions(self);
  st.timeline.forget(dm.source); // a listener went away
}

// A new config is in force: [targets] go to the guard and procscan live
// (the log level was applied by the config-watcher); the machine says the
// rest and moves the engine onto a new proxy.
void on_config_changed(self_ptr self, const config_changed& c) {
  auto& st = self->state;
  if (!c.settings)
    return;
  if (c.metrics_changed)
    if (auto metrics = st.services.actor_of(metrics_service))
      caf::anon_send(metrics, atom::update_v,
                     c.settings->metrics.listen
                         ? c.settings->metrics.listen->text()
                         : std::string{});
  st.settings = *c.settings;
  if (c.targets_changed || c.rules_changed)
    apply_targets(st.parts, st.hold.guard.get(), st.settings,
                  st.machine.state(), proxies_up(st.machine));
  run(self, st.machine.on_config(config_change_of(c, st.settings)));
}

void init(self_ptr self, config::settings settings, supervisor_ports ports) {
  auto& st = self->state;
  st.ports = std::move(ports);
  st.settings = std::move(settings);
  st.machine
      = engine_machine{timing_of(st.settings.engine), proxy_refs(st.settings)};
  std::string said;
  st.lifetime.open(st.ports.stats_file, today_text(), said);
  if (!said.empty())
    say(self, event_kind::info, said);
  st.services.start(self, supervisor_actor{self}, st.ports.services,
                    st.settings, st.timeline.speaker(self->name()));
  keep_companions(self);
  self->attach_functor([c = st.companions] {
    for (auto& a : *c)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // Shut down in stages: what brings new input first, then the engine
    // (rules removed), then the control server, then this actor.
    self->state.quit_reason = msg.reason;
    self->state.services.stop(self, false);
    run(self, self->state.machine.on_quit());
  });
  self->delayed_send(self, st.settings.engine.heartbeat_interval,
                     atom::heartbeat_v);
}

} // namespace

supervisor_state::~supervisor_state() {
  std::string said; // nobody left to tell
  lifetime.save(lifetime_store::clock::now(), true, said);
}

supervisor_actor::behavior_type
supervisor_with_ports(supervisor_actor::stateful_pointer<supervisor_state> self,
                      config::settings settings, supervisor_ports ports) {
  report_panics(self);
  init(self, std::move(settings), std::move(ports));
  auto machine = [=]() -> engine_machine& {
    return self->state.machine;
  };
  auto flow_manager = [=] {
    return self->state.parts.flow_manager;
  };
  return {
      [=](atom::start) { run(self, machine().on_start()); },
      [=](atom::closed) { run(self, machine().on_session_gone()); },
      [=](atom::add, caf::actor& borrower) {
        // From the flow-manager: the session is lent on to `borrower`.
        self->monitor(borrower);
        self->state.session.lend(borrower.address());
      },
      [=](atom::stop) { run(self, machine().on_stop()); },
      [=](atom::retry) { run(self, machine().on_retry()); },
      [=](atom::update, std::string& text) -> caf::result<std::string> {
        auto store = caf::actor_cast<config_watcher_actor>(
            self->state.services.actor_of(config_store_service));
        if (!store)
          return std::string{"error\nthe config store is not running: "
                             "edit the file, or restart Drover\n"};
        return self->delegate(store, atom::update_v, std::move(text));
      },
      [=](atom::check, const std::string& why, uint32_t proxy) {
        auto out = machine().on_check_wanted(proxy);
        if (!out.empty())
          log::get(self->name())
              ->info("a connection could not use the proxy ({}); checking it",
                     why);
        run(self, out);
      },
      [=](atom::get, atom::check,
          const std::string& proxy) -> caf::result<std::string> {
        auto& st = self->state;
        check_options o;
        o.tcp_target = st.settings.check.tcp_target;
        o.udp_target = st.settings.check.udp_target;
        o.proxy = proxy;
        auto work = [settings = st.settings, o, resolve = st.ports.resolve,
                     probe = st.ports.probe] {
          auto r = run_checks(settings, o, resolve, probe);
          return r.known ? r.json : "error\n" + r.error + "\n";
        };
        if (!st.ports.probe_on_own_thread)
          return work();
        // Blocking (names, connections): on a thread of its own.
        auto worker = self->system().spawn<caf::detached>(
            [work](caf::event_based_actor* w) -> caf::behavior {
              return {[=](atom::get, atom::check) {
                w->quit();
                return work();
              }};
            });
        auto rp = self->make_response_promise<std::string>();
        self->request(worker, std::chrono::minutes{3}, atom::get_v,
                      atom::check_v)
            .then(
                [=](std::string& json) mutable { rp.deliver(std::move(json)); },
                [=](caf::error&) mutable {
                  rp.deliver(std::string{"error\nthe check did not finish "
                                         "in time\n"});
                });
        return rp;
      },
      [=](const proxy_check& c) {
        auto& parts = self->state.parts;
        if (c.ok && c.proxy < parts.relays.size() && parts.relays[c.proxy])
          self->send(parts.relays[c.proxy], atom::update_v, atom::check_v,
                     c.pipelining);
        else if (c.ok && parts.relays.empty() && parts.listener)
          // The sessions' listener (Windows; Linux without kernel NAT):
          // one for every proxy.
          caf::anon_send(parts.listener, atom::update_v, atom::check_v, c.proxy,
                         c.pipelining);
        check_result r{c.proxy,    c.ok,  c.failure,   c.reason,
                       c.proxy_ip, c.udp, c.udp_reason};
        run(self, machine().on_check(r, self->clock().now()));
      },
      [=](atom::retry, uint64_t operation) {
        run(self, machine().on_timer(operation));
      },
      [=](atom::fault, const std::string& what) -> std::string {
        return inject_fault(self->state.parts, self->state.timeline.listeners(),
                            machine().state(), what);
      },
      [=](atom::subscribe, engine_listener_actor l) {
        self->monitor(l);
        self->state.timeline.subscribe(l);
        return self->state.timeline.status(self->state.stats);
      },
      [=](atom::get, atom::status) -> caf::result<engine_status> {
        auto rp = self->make_response_promise<engine_status>();
        with_fresh_stats(self, [=]() mutable {
          auto status = self->state.timeline.status(self->state.stats);
          status.targets = self->state.targets;
          status.lifetime = self->state.lifetime.totals();
          status.proxies = proxy_rows(self->state.machine);
          rp.deliver(std::move(status));
        });
        return rp;
      },
      [=](atom::get, atom::flows) -> caf::result<std::vector<flow_descriptor>> {
        if (!flow_manager())
          return std::vector<flow_descriptor>{};
        if (self->state.settings.proxies.size() < 2)
          return self->delegate(flow_manager(), atom::get_v, atom::flows_v);
        // Several proxies: each flow's by name.
        auto rp = self->make_response_promise<std::vector<flow_descriptor>>();
        self->request(flow_manager(), std::chrono::seconds{2}, atom::get_v,
                      atom::flows_v)
            .then(
                [=](std::vector<flow_descriptor>& flows) mutable {
                  auto& proxies = self->state.settings.proxies;
                  for (auto& f : flows)
                    if (f.proxy_index < proxies.size())
                      f.proxy = config::proxy_label(proxies[f.proxy_index]);
                  rp.deliver(std::move(flows));
                },
                [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [=](atom::spawn, std::vector<std::string>& argv, std::string& proxy) {
        return start_program(self, std::move(argv), proxy);
      },
      [=](atom::spawn, uint32_t pid, uint32_t caller, uint32_t user,
          std::string& proxy) {
        return join_program(self, pid, caller, user, proxy);
      },
      [=](process_set& ps) {
        self->state.named_targets_running = !ps.processes.empty();
        self->state.targets = ps.processes;
        if (flow_manager())
          self->send(flow_manager(), ps);
      },
      [=](atom::heartbeat) {
        auto& st = self->state;
        auto said = st.traffic.on_heartbeat(
            machine().state() == engine_state::active,
            st.stats.bytes_in + st.stats.bytes_out,
            st.named_targets_running || st.spawned_target, self->clock().now(),
            st.settings.engine.no_traffic_warn_after);
        st.stats.no_traffic = st.traffic.no_traffic();
        keep_lifetime(self, false);
        if (!said.empty())
          say(self, event_kind::info, said);
        self->delayed_send(self, st.settings.engine.heartbeat_interval,
                           atom::heartbeat_v);
      },
      [=](atom::sleep) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        self->state.sleep_waiters.push_back(rp);
        // Going to sleep: every target's new socket is marked again, so it
        // is dropped (a direct fallback does not apply in sleep); the wake
        // starts over and says again what can be used.
        if (auto* guard = self->state.hold.guard.get())
          for (uint32_t i = 0; i < self->state.settings.proxies.size(); ++i)
            guard->set_proxying(i, true, true);
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
      [=](stats_snapshot& s) {
        // Pushed by the running flow-manager (one of a stopped run may
        // still be on its way: not shown).
        if (!flow_manager()
            || self->current_sender() != flow_manager().address())
          return;
        take_stats(self->state, std::move(s));
        self->state.timeline.send(self->state.stats);
      },
  };
}

} // namespace drover
