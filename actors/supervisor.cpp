#include "actors/supervisor.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>

#include "actors/crash_report.hpp"
#include "actors/divert_reader.hpp"
#include "actors/flow_manager.hpp"
#include "actors/guard_watch.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/proxy_probe.hpp"
#include "actors/platform/sockets.hpp"
#include "actors/procscan.hpp"
#include "actors/proxy_check.hpp"
#include "actors/socks_session.hpp"
#include "messages/recovery.hpp"

namespace drover {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

void start(self_ptr self, bool restart = false);

void publish(self_ptr self, event_kind kind, engine_state state,
             std::string reason, failure_class failure = failure_class::none,
             uint32_t attempt = 0) {
  auto& st = self->state;
  engine_event e;
  e.kind = kind;
  e.state = state;
  e.reason = std::move(reason);
  e.failure = failure;
  e.attempt = attempt;
  e.time = caf::make_timestamp();
  if (kind == event_kind::state_changed || kind == event_kind::reconnect_attempt
      || kind == event_kind::restart)
    st.last = e; // what `status` shows as the state
  st.recent.push_back(e);
  while (st.recent.size() > supervisor_state::recent_events)
    st.recent.pop_front();
  auto lg = log::get(self->name());
  auto level = state == engine_state::failed ? spdlog::level::err
                                             : spdlog::level::info;
  if (kind == event_kind::config_error)
    level = spdlog::level::warn;
  lg->log(level, "{}: {}", label(e), e.reason);
  trace::record(self->name(), to_string(kind),
                {{"state", to_string(state)},
                 {"reason", e.reason},
                 {"failure", to_string(failure)},
                 {"attempt", attempt}});
  for (auto& l : st.listeners)
    self->send(l, e);
}

// What the guard itself stopped or reset, beside the flow-manager's counts.
void add_guard_counters(const supervisor_state& st, stats_snapshot& s) {
  if (!st.guard)
    return;
  auto c = st.guard->counters();
  s.packets_fenced = c.packets_fenced;
  s.connections_reset += c.connections_reset;
}

engine_status status_of(const supervisor_state& st) {
  engine_status s;
  s.last = st.last;
  s.stats = st.stats;
  s.recent.assign(st.recent.begin(), st.recent.end());
  return s;
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

// The guard keeps the targets captured from Start to Stop, across every
// restart of the engine's parts (docs/architecture.md). Opened by the
// first start, with its watchdog.
bool open_guard(self_ptr self, net::ipv4_address proxy_ip, std::string& error,
                bool& not_permitted) {
  auto& st = self->state;
  if (st.guard)
    return true;
  platform::guard_options go;
  go.targets.names = config::effective_process_names(st.settings.targets);
  go.skip.proxy = proxy_ip;
  go.skip.multicast = st.settings.skip.multicast;
  go.skip.extra = st.settings.skip.extra_skip_cidrs;
  auto g = st.ports.open_guard(go);
  if (!g.guard) {
    error = g.error;
    not_permitted = g.failure == platform::capture_failure::not_permitted;
    return false;
  }
  st.guard = std::move(g.guard);
  log::get(self->name())
      ->info("capture guard in place: {}", st.guard->description());
  spawn_watchdog(self);
  return true;
}

// Stop or Quit: the targets are no longer captured.
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

// Stops every engine actor; the capture session goes when the last of them
// is down (the guard stays).
void stop_children(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  st.stopping = true;
  for (auto& a : {caf::actor_cast<caf::actor>(st.reader),
                  caf::actor_cast<caf::actor>(st.flow_manager),
                  caf::actor_cast<caf::actor>(st.scanner), st.listener})
    if (a)
      self->send_exit(a, reason);
}

void stopped(self_ptr self) {
  auto& st = self->state;
  // The session goes (queue, injector); the guard keeps the targets
  // captured until a Stop or Quit releases it.
  if (!st.hold_capture)
    st.capture.reset();
  st.reader = nullptr;
  st.flow_manager = nullptr;
  st.scanner = nullptr;
  st.listener = nullptr;
  st.stopping = false;
  st.probing = false;
  if (st.pause_when_stopped) {
    st.pause_when_stopped = false;
    for (auto& rp : st.sleep_waiters)
      rp.deliver(true);
    st.sleep_waiters.clear();
  } else if (st.last.state != engine_state::failed && !st.reopening
             && !st.start_when_stopped) {
    release_guard(self);
    publish(self, event_kind::state_changed, engine_state::idle,
            "stopped: nothing is captured");
  }
  if (st.quit_when_stopped) {
    release_guard(self);
    self->quit();
  } else if (st.start_when_stopped) {
    st.start_when_stopped = false;
    start(self, true);
  }
}

// Failed, failing closed: a target never goes direct by accident. When the
// engine's parts still run (the proxy failed, not the engine), they stay
// and the flow-manager refuses every new flow. When a part died, the others
// stop but the capture (rules, queue) stays: captured packets wait in a
// queue nobody reads and are dropped. Retry or Stop release it.
void fail(self_ptr self, failure_class failure, const std::string& reason,
          bool parts_healthy = false) {
  auto& st = self->state;
  st.retry_generation++; // cancels a pending reconnect or reopen
  st.reopening = false;
  publish(self, event_kind::state_changed, engine_state::failed, reason,
          failure);
  if (parts_healthy && !st.children.empty())
    return;
  st.hold_capture = true;
  if (!st.children.empty()) {
    if (!st.stopping)
      stop_children(self, caf::exit_reason::user_shutdown);
  } else {
    stopped(self);
  }
}

// Lets go of a session held in Failed (or during a reopen); the guard
// keeps the targets captured meanwhile.
void release_held_capture(self_ptr self) {
  auto& st = self->state;
  st.hold_capture = false;
  st.capture.reset();
}

// What the flow-manager does with new flows: proxy them (true), or, while
// the proxy cannot be used, what the user chose (block by default).
void set_proxying(self_ptr self, bool on) {
  auto& st = self->state;
  auto policy
      = on ? new_flow_policy::proxy
        : st.settings.targets.when_not_proxying == config::not_proxying::direct
            ? new_flow_policy::direct
            : new_flow_policy::refuse;
  if (st.flow_manager)
    self->send(st.flow_manager, atom::update_v, policy);
}

// Checks the proxy on a thread of its own (blocking calls: name lookup,
// connect); the result comes back as a proxy_check.
void check_proxy(self_ptr self) {
  auto& st = self->state;
  if (st.probing)
    return;
  st.probing = true;
  platform::probe_request req;
  req.proxy = st.proxy;
  req.auth = st.settings.proxy.auth;
  req.login = st.settings.proxy.login;
  req.password = st.settings.proxy.password;
  req.budget = std::chrono::seconds{2};
  auto host = st.settings.proxy.host;
  trace::record(self->name(), "check-proxy",
                {{"proxy", host}, {"port", st.proxy.port}});
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

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 60000 == 0)
    return std::to_string(ms / 60000) + " min";
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s"
                        : std::to_string(ms) + " ms";
}

// The result of a proxy check: Active, Reconnecting (backoff) or Failed.
void on_check(self_ptr self, const proxy_check& c) {
  auto& st = self->state;
  st.probing = false;
  if (st.children.empty() || st.stopping
      || st.last.state == engine_state::failed
      || st.last.state == engine_state::paused || st.resuming)
    return; // stopped, given up or asleep meanwhile
  auto& proxy = st.settings.proxy;
  if (c.proxy_ip != 0 && c.proxy_ip != st.proxy.ip.value) {
    // The name points elsewhere now; the capture excludes the old address
    // and the sessions use it: start again on the new one.
    publish(self, event_kind::info, st.last.state,
            "the proxy " + proxy.host + " is now at "
                + net::to_string(net::ipv4_address{c.proxy_ip}) + " (was "
                + (st.proxy.ip.value == 0 ? std::string{"not found"}
                                          : net::to_string(st.proxy.ip))
                + "): restarting the engine");
    st.retry_generation++;
    st.start_when_stopped = true;
    stop_children(self, caf::exit_reason::user_shutdown);
    return;
  }
  if (c.ok) {
    if (st.last.state == engine_state::active)
      return; // a session's trouble was its own, the proxy is fine
    auto attempts
        = st.last.state == engine_state::reconnecting ? st.last.attempt : 0u;
    st.policy.on_active();
    set_proxying(self, true);
    st.stats.active_since = caf::make_timestamp();
    st.last_traffic = self->clock().now();
    st.stats.no_traffic = false;
    publish(self, event_kind::state_changed, engine_state::active,
            "proxying through " + proxy.host + ":" + std::to_string(proxy.port)
                + (attempts > 0 ? " (reconnected after "
                                      + std::to_string(attempts) + " attempts)"
                                : ""));
    return;
  }
  set_proxying(self, false);
  if (c.failure != failure_class::proxy_unreachable)
    return fail(self, c.failure, c.reason, true); // retrying changes nothing
  auto d = st.policy.on_failure(failure_class::proxy_unreachable,
                                self->clock().now());
  if (d.action != recovery_action::exp_backoff)
    return fail(self, failure_class::proxy_unreachable,
                std::string{d.gave_up} + " for "
                    + seconds_text(st.policy.timing().backoff_total) + " ("
                    + c.reason + "); new connections are refused "
                    + "until you choose Retry or Stop",
                true);
  auto gen = ++st.retry_generation;
  publish(self, event_kind::reconnect_attempt, engine_state::reconnecting,
          "cannot reach the proxy " + proxy.host + ":"
              + std::to_string(proxy.port) + " (" + c.reason + "); attempt "
              + std::to_string(d.attempt) + ", next try in "
              + seconds_text(d.delay),
          failure_class::proxy_unreachable, d.attempt);
  self->delayed_send(self, d.delay, atom::retry_v, gen);
}

// Starts the engine's parts: from Idle or Failed, or as a restart
// (`restart`: a new proxy; the guard stays in place throughout).
void start(self_ptr self, bool restart) {
  auto& st = self->state;
  bool woke = st.resuming;
  bool reopen = st.reopening;
  restart = restart || st.restarting;
  st.resuming = false;
  st.reopening = false;
  st.restarting = false;
  if (st.last.state != engine_state::idle
      && st.last.state != engine_state::failed && !woke && !reopen && !restart)
    return;
  if (st.stopping)
    return; // a Stop is still in progress
  if (!st.children.empty()) {
    // Failed with the capture kept (fail closed): release it, then start.
    st.start_when_stopped = true;
    stop_children(self, caf::exit_reason::user_shutdown);
    return;
  }
  release_held_capture(self);
  if (st.live_captures->load() > 0) {
    // The previous session is still going away: start once it is gone.
    st.resuming = woke;
    st.reopening = reopen;
    st.restarting = restart;
    st.start_when_released = true;
    return;
  }
  st.start_when_released = false;
  if (!reopen)
    st.policy.reset(); // a reopen keeps counting driver losses
  st.retry_generation++;
  publish(self, event_kind::state_changed, engine_state::starting,
          reopen    ? "reopening the packet handle"
          : restart ? "restarting the engine's parts (the capture stays)"
                    : "starting the engine");
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
  // The guard first: from here on the targets' traffic goes through the
  // proxy or nowhere, until Stop.
  bool not_permitted = false;
  if (!open_guard(self, *proxy_ip, error, not_permitted))
    return not_permitted ? fail(self, failure_class::fatal, error)
                         : fail(self, failure_class::driver_gone,
                                error + ". " + platform::capture_repair_hint());
  net::endpoint listen_at{net::ipv4_address{0x7f000001}, 0};
  auto fd = platform::invalid_socket;
  if (st.ports.with_listener) {
    fd = platform::listen_tcp(listen_at, error);
    if (fd == platform::invalid_socket)
      return fail(self, failure_class::fatal,
                  "cannot open the local listener: " + error);
  }
  platform::capture_options opts;
  opts.guard = st.guard;
  opts.listener = {net::nat_shape::loopback, listen_at.port};
  opts.skip.proxy = *proxy_ip;
  opts.skip.multicast = st.settings.skip.multicast;
  opts.skip.extra = st.settings.skip.extra_skip_cidrs;
  auto opened = st.ports.open_capture(opts);
  if (!opened.session) {
    if (fd != platform::invalid_socket)
      platform::close_socket(fd);
    if (opened.failure == platform::capture_failure::not_permitted)
      return fail(self, failure_class::fatal, opened.error);
    return fail(self, failure_class::driver_gone,
                opened.error + ". " + platform::capture_repair_hint());
  }
  // Every holder (the engine parts, this actor) shares one handle; when the
  // last lets go, the session is destroyed (its queue closed) and this
  // actor hears of it, so a waiting start may go on.
  ++*st.live_captures;
  st.capture = std::shared_ptr<platform::capture_session>(
      opened.session.get(),
      [session = opened.session, live = st.live_captures,
       addr = self->address()](platform::capture_session*) mutable {
        session.reset();
        --*live;
        if (auto sup = caf::actor_cast<caf::actor>(addr))
          caf::anon_send(sup, atom::closed_v);
      });
  if (st.ports.capture_shared)
    st.ports.capture_shared(st.capture);
  log::get(self->name())->info("capture set up: {}", st.capture->description());

  upstream_settings up;
  up.proxy = {*proxy_ip, proxy.port};
  up.auth = proxy.auth;
  up.login = proxy.login;
  up.password = proxy.password;
  up.connect_timeout = proxy.tcp_connect_timeout;
  up.health = caf::actor_cast<caf::actor>(self);
  st.proxy = up.proxy;
  flow_manager_config fcfg;
  // Until the proxy passed its check: refused (or direct, if so chosen).
  fcfg.policy
      = st.settings.targets.when_not_proxying == config::not_proxying::direct
            ? new_flow_policy::direct
            : new_flow_policy::refuse;
  fcfg.listener = opts.listener;
  fcfg.upstream = up;
  auto fd_limit = platform::open_file_limit();
  fcfg.table.max_flows = net::flows_within_descriptor_budget(
      st.settings.engine.max_flows, fd_limit);
  if (fcfg.table.max_flows < st.settings.engine.max_flows)
    log::get(self->name())
        ->warn("the open-file limit ({}) allows {} proxied flows at once, "
               "fewer than engine.max_flows = {}; raise the limit (ulimit "
               "-n, or LimitNOFILE= for a service) to allow more",
               fd_limit, fcfg.table.max_flows, st.settings.engine.max_flows);
  fcfg.table.tcp_idle = st.settings.engine.tcp_idle_timeout;
  fcfg.table.udp_idle = st.settings.engine.udp_idle_timeout;
  auto& sys = self->system();
  st.flow_manager = sys.spawn(flow_manager, st.capture, fcfg);
  st.reader = sys.spawn(divert_reader, st.capture, st.flow_manager);
  set_reader(st.flow_manager, st.reader);
  if (st.ports.with_listener)
    st.listener
        = sys.middleman().spawn_broker(tcp_listener, fd, st.flow_manager, up);
  st.scanner = sys.spawn(procscan, st.capture,
                         config::effective_process_names(st.settings.targets),
                         supervisor_actor{self});
  st.children.clear();
  for (auto& a : {caf::actor_cast<caf::actor>(st.reader),
                  caf::actor_cast<caf::actor>(st.flow_manager),
                  caf::actor_cast<caf::actor>(st.scanner), st.listener}) {
    if (!a)
      continue;
    self->monitor(a);
    st.children.push_back(a.address());
  }
  st.stats = {};
  st.named_targets_running = false; // the new procscan says
  publish(self, event_kind::info, engine_state::starting,
          "capture ready (new connections wait for the proxy check); "
          "checking the proxy "
              + proxy.host + ":" + std::to_string(proxy.port));
  check_proxy(self);
}

recovery_timing timing_of(const config::engine_settings& e) {
  recovery_timing t;
  t.backoff_initial = e.reconnect_backoff_initial;
  t.backoff_max = e.reconnect_backoff_max;
  t.backoff_total = e.reconnect_total_cap;
  return t;
}

// A new config is in force. [proxy] moves the engine onto the new proxy
// (Stop, then Start, when it runs); [targets] go to procscan live; the log
// level was applied by the config-watcher; the rest applies at the next
// start, which the event says.
void on_config_changed(self_ptr self, const config_changed& c) {
  auto& st = self->state;
  if (!c.settings)
    return;
  st.settings = *c.settings;
  std::vector<std::string> applied;
  std::vector<std::string> later;
  if (c.targets_changed) {
    if (st.guard) {
      platform::target_selection t;
      t.names = config::effective_process_names(st.settings.targets);
      std::string error;
      if (!st.guard->set_targets(t, error))
        log::get(self->name())->error("new targets: {}", error);
    }
    if (st.flow_manager && st.last.state != engine_state::active
        && st.last.state != engine_state::paused)
      set_proxying(self, false); // when_not_proxying may have changed
    if (st.scanner)
      self->send(st.scanner, atom::update_v,
                 config::effective_process_names(st.settings.targets));
    applied.emplace_back("[targets]");
  }
  if (c.ui_changed)
    applied.emplace_back("[ui]");
  if (c.engine_changed) {
    // A new policy (its attempts start over) only when no series runs.
    if (st.last.state != engine_state::reconnecting)
      st.policy = recovery_policy{timing_of(st.settings.engine)};
    later.emplace_back("[engine]");
  }
  if (c.skip_changed)
    later.emplace_back("[skip]");
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v)
      out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  auto& proxy = st.settings.proxy;
  bool running = !st.children.empty() && !st.stopping;
  std::string text = "the config file changed";
  if (!applied.empty())
    text += "; applied " + join(applied);
  if (c.proxy_changed && running)
    text += "; the proxy is now " + proxy.host + ":"
            + std::to_string(proxy.port) + ": restarting the engine";
  else if (c.proxy_changed)
    text += "; the proxy is now " + proxy.host + ":"
            + std::to_string(proxy.port);
  else if (!later.empty() && running)
    text += "; " + join(later) + " apply at the next start";
  publish(self, event_kind::config_applied, st.last.state, text);
  if (c.proxy_changed && running) {
    st.retry_generation++; // the old proxy's backoff is over
    st.start_when_stopped = true;
    stop_children(self, caf::exit_reason::user_shutdown);
  }
}

// The system is about to sleep: close every connection and release the
// capture (Paused); the answer goes out once that is done, so the OS may
// sleep. A proxy connection would not survive the sleep anyway, and the
// capture must not hold packets of a network that changes meanwhile.
caf::result<bool> go_to_sleep(self_ptr self) {
  auto& st = self->state;
  if (st.stopping && !st.start_when_stopped && !st.pause_when_stopped)
    return true; // a Stop is under way: nothing will run
  if (st.children.empty() && !st.stopping) {
    if (st.reopening || st.resuming) {
      // Between a lost handle and its reopen, or still waking: no reopen
      // while asleep; the wake starts it.
      st.reopening = false;
      st.resuming = false;
      st.retry_generation++;
      release_held_capture(self);
      publish(self, event_kind::state_changed, engine_state::paused,
              "the computer is going to sleep: nothing is captured until "
              "it wakes",
              failure_class::sleep);
    }
    return true; // nothing runs (Idle, or Failed: the capture stays held)
  }
  st.retry_generation++; // no reconnect attempt while asleep
  st.policy.reset();     // the wake starts a new series
  if (st.stopping) {
    // A restart is under way: its parts stay down until the wake.
    st.start_when_stopped = false;
    st.pause_when_stopped = true;
    publish(self, event_kind::state_changed, engine_state::paused,
            "the computer is going to sleep: connections closed; the "
            "targets' traffic is held back until it wakes",
            failure_class::sleep);
    auto rp = self->make_response_promise<bool>();
    st.sleep_waiters.push_back(rp);
    return rp;
  }
  // The parts keep running and the capture stays (fail closed: a wake, a
  // network change, nothing lets a target out direct): every connection
  // ends, and the targets' packets are dropped until the wake.
  if (st.flow_manager)
    self->send(st.flow_manager, atom::update_v, new_flow_policy::drop);
  publish(self, event_kind::state_changed, engine_state::paused,
          "the computer is going to sleep: connections closed; the targets' "
          "traffic is held back until it wakes",
          failure_class::sleep);
  auto rp = self->make_response_promise<bool>();
  if (!st.flow_manager) {
    rp.deliver(true);
    return rp;
  }
  self->request(st.flow_manager, std::chrono::seconds{2}, atom::reset_v)
      .then([=](uint32_t) mutable { rp.deliver(true); },
            [=](caf::error&) mutable { rp.deliver(true); });
  return rp;
}

// "Active (no traffic)": Active, a target runs, and no byte moved for
// engine.no_traffic_warn_after. Said once, and once when traffic is back;
// the state stays Active (the proxy answers its checks).
void heartbeat(self_ptr self) {
  auto& st = self->state;
  if (st.last.state != engine_state::active) {
    st.stats.no_traffic = false;
    return;
  }
  auto now = self->clock().now();
  auto bytes = st.stats.bytes_in + st.stats.bytes_out;
  if (bytes != st.last_bytes) {
    st.last_bytes = bytes;
    st.last_traffic = now;
    if (st.stats.no_traffic) {
      st.stats.no_traffic = false;
      publish(self, event_kind::info, engine_state::active,
              "traffic flows through the proxy again");
    }
    return;
  }
  auto quiet = st.settings.engine.no_traffic_warn_after;
  if (st.stats.no_traffic || !(st.named_targets_running || st.spawned_target)
      || now - st.last_traffic < quiet)
    return;
  st.stats.no_traffic = true;
  publish(self, event_kind::info, engine_state::active,
          "Active (no traffic): nothing went through the proxy for "
              + seconds_text(quiet)
              + " while a target program runs; if Discord does not "
                "connect, run `drover check`");
}

// A child's exit reason in words: the engine's own errors carry a sentence.
std::string describe_failure(self_ptr self, const caf::error& reason) {
  auto& ctx = reason.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return self->system().render(reason);
}

// A panic: the crash report first, then Failed with where to find it.
void on_panic(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  auto r = assemble_crash_report(panic_of(reason),
                                 describe_failure(self, reason), st.recent);
  auto dir = crash_report_dir(st.ports.crash_dir, r.log_file);
  std::string error;
  auto path = write_crash_report(dir, r, error);
  if (path.empty())
    log::get(self->name())->error("{}", error);
  fail(self, failure_class::panic,
       "an engine part failed: " + r.panic.actor + " (" + r.panic.what + "); "
           + (path.empty() ? error : "a crash report is in " + path.string())
           + "; choose Retry to start again");
}

// A child died on its own: never silently ignored.
void on_child_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  auto failure = classify(reason);
  if (failure == failure_class::none)
    failure = failure_class::fatal;
  if (failure == failure_class::panic)
    return on_panic(self, reason);
  auto d = st.policy.on_failure(failure, self->clock().now());
  auto why = describe_failure(self, reason);
  if (d.action == recovery_action::retry_once) {
    // The packet handle was lost: stop the parts, keep the rules (fail
    // closed), open a new handle after a pause.
    publish(self, event_kind::restart, engine_state::starting,
            "the packet handle was lost (" + why + "); reopening it in "
                + seconds_text(d.delay),
            failure, d.attempt);
    set_proxying(self, false);
    st.reopening = true;
    st.hold_capture = true;
    auto gen = ++st.retry_generation;
    if (!st.stopping)
      stop_children(self, caf::exit_reason::user_shutdown);
    self->delayed_send(self, d.delay, atom::retry_v, gen);
    return;
  }
  fail(self, failure,
       *d.gave_up != '\0' ? std::string{d.gave_up} + " (" + why + ")"
                          : "an engine part stopped: " + why);
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

bool fault_hooks_built_in() {
#ifdef DROVER_FAULT_INJECTION
  return true;
#else
  return false;
#endif
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
  self->state.ports = std::move(ports);
  self->state.settings = std::move(settings);
  self->state.policy = recovery_policy{timing_of(self->state.settings.engine)};
  self->state.last.time = caf::make_timestamp();
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.watchdog && dm.source == st.watchdog.address()) {
      // Never without one while the guard holds.
      publish(self, event_kind::info, st.last.state,
              "the capture watchdog stopped ("
                  + describe_failure(self, dm.reason) + "); started again");
      spawn_watchdog(self);
      return;
    }
    auto& kids = st.children;
    auto it = std::find(kids.begin(), kids.end(), dm.source);
    if (it != kids.end()) {
      kids.erase(it);
      if (!st.stopping) {
        on_child_down(self, dm.reason);
      } else if (kids.empty()) {
        stopped(self);
      }
      return;
    }
    auto& ls = st.listeners;
    ls.erase(std::remove_if(ls.begin(), ls.end(),
                            [&](const engine_listener_actor& l) {
                              return l.address() == dm.source;
                            }),
             ls.end());
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // Shut down cleanly: stop the engine (rules removed) before quitting.
    auto& st = self->state;
    st.quit_when_stopped = true;
    if (st.children.empty()) {
      st.capture.reset();
      release_guard(self);
      self->quit(msg.reason);
    } else if (!st.stopping)
      stop_children(self, caf::exit_reason::user_shutdown);
  });
  self->delayed_send(self, std::chrono::seconds{1}, atom::stats_v);
  self->delayed_send(self, self->state.settings.engine.heartbeat_interval,
                     atom::heartbeat_v);
  return {
      [=](atom::start) { start(self); },
      [=](atom::closed) {
        // A capture session is gone; a start that waited for it goes on.
        auto& st = self->state;
        if (st.start_when_released && st.live_captures->load() == 0)
          start(self);
      },
      [=](atom::stop) {
        auto& st = self->state;
        st.retry_generation++; // no reconnect after a Stop
        st.start_when_stopped = false;
        st.start_when_released = false;
        if (st.children.empty() && !st.stopping
            && (st.last.state == engine_state::paused || st.resuming
                || st.reopening || st.hold_capture || st.guard)) {
          // Asleep, waking, between a handle's loss and its reopen, or
          // Failed with the capture held: nothing runs, release the rest.
          st.resuming = false;
          st.reopening = false;
          st.hold_capture = false;
          st.capture.reset();
          release_guard(self);
          publish(self, event_kind::state_changed, engine_state::idle,
                  "stopped: nothing is captured");
          return;
        }
        if (!self->state.children.empty() && !self->state.stopping) {
          publish(self, event_kind::info, self->state.last.state, "stopping");
          stop_children(self, caf::exit_reason::user_shutdown);
        }
      },
      [=](atom::retry) {
        auto& st = self->state;
        if (st.last.state != engine_state::failed || st.stopping)
          return;
        start(self); // releases a capture kept in Failed first
      },
      [=](atom::check, const std::string& why) {
        auto& st = self->state;
        if (st.last.state != engine_state::active || st.probing)
          return;
        log::get(self->name())
            ->info("a connection could not use the proxy ({}); checking it",
                   why);
        check_proxy(self);
      },
      [=](const proxy_check& c) { on_check(self, c); },
      [=](atom::retry, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.retry_generation)
          return; // a Stop, a Retry or a new series came since
        if (st.reopening) {
          if (st.stopping)
            st.start_when_stopped = true; // the parts are still stopping
          else
            start(self);
        } else if (st.last.state == engine_state::reconnecting) {
          check_proxy(self);
        }
      },
      [=](atom::fault, const std::string& what) -> std::string {
#ifdef DROVER_FAULT_INJECTION
        auto& st = self->state;
        if (what == "panic" && st.flow_manager) {
          self->send(st.flow_manager, atom::fault_v);
          return "the flow-manager throws";
        }
        if (what == "kill-procscan" && st.scanner) {
          // An exit no failure class describes: "anything unclassified".
          self->send_exit(st.scanner, caf::exit_reason::kill);
          return "procscan is killed";
        }
        if (what == "driver-lost" && st.reader) {
          self->send(st.reader, atom::internal_v,
                     std::string{"injected fault: the packet handle failed"});
          return "the packet handle fails";
        }
        if (what.rfind("flood ", 0) == 0) {
          // N events to the listeners alone (not logged): a follower that
          // does not read them must not make the engine hold them all.
          auto n = std::min<unsigned long>(
              std::strtoul(what.c_str() + 6, nullptr, 10), 100000);
          engine_event e;
          e.kind = event_kind::info;
          e.state = st.last.state;
          e.time = caf::make_timestamp();
          for (unsigned long i = 0; i < n; ++i) {
            e.reason = "injected event " + std::to_string(i + 1) + " of "
                       + std::to_string(n);
            for (auto& l : st.listeners)
              self->send(l, e);
          }
          return "sent " + std::to_string(n) + " events";
        }
        return "nothing done: unknown fault \"" + what
               + "\", or the engine does not run";
#else
        (void)what;
        return "fault injection is not built in";
#endif
      },
      [=](atom::subscribe, engine_listener_actor l) {
        self->monitor(l);
        self->state.listeners.push_back(l);
        return status_of(self->state);
      },
      [=](atom::get, atom::status) -> caf::result<engine_status> {
        // Fresh counters from the flow-manager, not the last second's.
        if (!self->state.flow_manager)
          return status_of(self->state);
        auto rp = self->make_response_promise<engine_status>();
        self->request(self->state.flow_manager, std::chrono::seconds{2},
                      atom::get_v, atom::stats_v)
            .then(
                [=](stats_snapshot s) mutable {
                  s.active_since = self->state.stats.active_since;
                  s.no_traffic = self->state.stats.no_traffic;
                  add_guard_counters(self->state, s);
                  self->state.stats = s;
                  rp.deliver(status_of(self->state));
                },
                [=](caf::error&) mutable {
                  rp.deliver(status_of(self->state));
                });
        return rp;
      },
      [=](atom::get, atom::flows) -> caf::result<std::vector<flow_descriptor>> {
        if (!self->state.flow_manager)
          return std::vector<flow_descriptor>{};
        return self->delegate(self->state.flow_manager, atom::get_v,
                              atom::flows_v);
      },
      [=](atom::spawn, std::vector<std::string> argv) -> caf::result<int64_t> {
        if (!self->state.capture
            || self->state.last.state != engine_state::active)
          return caf::make_error(ec::unspecified, "the engine is not active");
        std::string error;
        auto pid = self->state.capture->spawn_target(argv, error);
        if (pid < 0)
          return caf::make_error(ec::unspecified,
                                 "cannot start " + argv.front() + ": " + error);
        self->state.spawned_target = true;
        publish(self, event_kind::info, engine_state::active,
                "started " + argv.front() + " (pid " + std::to_string(pid)
                    + ") as a target");
        return static_cast<int64_t>(pid);
      },
      [=](process_set& ps) {
        self->state.named_targets_running = !ps.processes.empty();
        if (self->state.flow_manager)
          self->send(self->state.flow_manager, ps);
      },
      [=](atom::heartbeat) {
        heartbeat(self);
        self->delayed_send(self, self->state.settings.engine.heartbeat_interval,
                           atom::heartbeat_v);
      },
      [=](atom::sleep) -> caf::result<bool> { return go_to_sleep(self); },
      [=](atom::resume) {
        auto& st = self->state;
        if (st.last.state != engine_state::paused)
          return;
        st.resuming = true;
        publish(self, event_kind::state_changed, engine_state::starting,
                "the computer woke up: waiting for the network",
                failure_class::resume);
        self->send(self, atom::resume_v, uint32_t{0});
      },
      [=](atom::resume, uint32_t looks) {
        auto& st = self->state;
        if (!st.resuming)
          return; // stopped meanwhile
        // Wait (bounded) for a route to the proxy; without one the proxy
        // check would only fail and start a reconnect series.
        constexpr uint32_t max_looks = 20; // 5 s
        if (!st.ports.has_route(st.proxy.ip) && looks < max_looks) {
          self->delayed_send(self, std::chrono::milliseconds{250},
                             atom::resume_v, looks + 1);
          return;
        }
        if (st.children.empty() || st.stopping)
          return start(self);
        // The parts kept running through the sleep: check the proxy.
        st.resuming = false;
        check_proxy(self);
      },
      [=](const config_changed& c) { on_config_changed(self, c); },
      [=](config_error& e) {
        publish(self, event_kind::config_error, self->state.last.state,
                e.message);
      },
      [=](atom::repair, const std::string& what) {
        publish(self, event_kind::info, self->state.last.state, what);
      },
      [=](atom::stats) {
        // Keep the counters fresh for `status` and the listeners.
        if (self->state.flow_manager)
          self->request(self->state.flow_manager, std::chrono::seconds{1},
                        atom::get_v, atom::stats_v)
              .then(
                  [=](stats_snapshot s) {
                    s.active_since = self->state.stats.active_since;
                    s.no_traffic = self->state.stats.no_traffic;
                    add_guard_counters(self->state, s);
                    self->state.stats = s;
                    for (auto& l : self->state.listeners)
                      self->send(l, s);
                  },
                  [](caf::error&) {});
        self->delayed_send(self, std::chrono::seconds{1}, atom::stats_v);
      },
  };
}

} // namespace drover
