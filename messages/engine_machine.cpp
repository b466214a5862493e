#include "messages/engine_machine.hpp"
#include "messages/engine_machine_detail.hpp"

namespace drover {

using machine_detail::after;
using machine_detail::command;

std::string duration_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms != 0 && ms % 60000 == 0)
    return std::to_string(ms / 60000) + " min";
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s"
                        : std::to_string(ms) + " ms";
}

engine_machine::engine_machine(recovery_timing timing, std::string host,
                               uint16_t port)
    : engine_machine(timing, {proxy_ref{{}, std::move(host), port, false}}) {}

engine_machine::engine_machine(recovery_timing timing,
                               std::vector<proxy_ref> proxies)
    : timing_(timing), policy_(timing) {
  if (proxies.empty())
    proxies.emplace_back();
  for (auto& ref : proxies) {
    upstream u{{}, recovery_policy{timing}, false, false, 0};
    u.health.ref = std::move(ref);
    upstreams_.push_back(std::move(u));
  }
}

bool engine_machine::parts_running() const {
  switch (phase_) {
    case engine_phase::checking:
    case engine_phase::active:
    case engine_phase::reconnecting:
    case engine_phase::failed_running:
    case engine_phase::paused_running:
    case engine_phase::waking_running:
      return true;
    default:
      return false;
  }
}

void engine_machine::publish(engine_commands& out, event_kind kind,
                             engine_state state, std::string reason,
                             failure_class failure, uint32_t attempt) {
  auto c = command(command_kind::publish);
  c.event.kind = kind;
  c.event.state = state;
  c.event.reason = std::move(reason);
  c.event.failure = failure;
  c.event.attempt = attempt;
  c.event.tcp_only = state == engine_state::active && tcp_only();
  if (state == engine_state::active)
    for (auto& u : upstreams_)
      c.event.degraded |= u.health.phase != proxy_phase::up;
  if (kind == event_kind::state_changed || kind == event_kind::reconnect_attempt
      || kind == event_kind::restart) {
    shown_ = state;
    shown_attempt_ = attempt;
  }
  out.push_back(std::move(c));
}

// Starts the parts, once the last session is gone (the next one binds the
// same packet queue, which fails while the old one holds it).
void engine_machine::begin(engine_commands& out, start_kind kind) {
  if (capture_held_) {
    out.push_back(command(command_kind::release_capture));
    capture_held_ = false;
  }
  if (sessions_alive_ > 0) {
    phase_ = engine_phase::waiting_for_old_session;
    pending_start_ = kind;
    return;
  }
  if (kind != start_kind::reopen)
    reset_policy(); // a reopen keeps counting driver losses
  reset_proxy_policies();
  cancel_timers();
  publish(out, event_kind::state_changed, engine_state::starting,
          kind == start_kind::reopen ? "reopening the packet handle"
          : kind == start_kind::restart
              ? "restarting the engine's parts (the capture stays)"
              : "starting the engine");
  auto c = command(command_kind::start_parts);
  c.start = kind;
  out.push_back(c);
  phase_ = engine_phase::starting;
  // The guard may be in place from here on, even if the start fails later:
  // only Stop and Quit release it.
  guard_held_ = true;
}

void engine_machine::stop_parts(engine_commands& out, after_stop then) {
  phase_ = engine_phase::stopping;
  after_ = then;
  out.push_back(command(command_kind::stop_parts));
}

void engine_machine::release_all(engine_commands& out) {
  if (capture_held_) {
    out.push_back(command(command_kind::release_capture));
    capture_held_ = false;
  }
  out.push_back(command(command_kind::release_guard));
  guard_held_ = false;
  phase_ = engine_phase::idle;
  if (shown_ != engine_state::idle)
    publish(out, event_kind::state_changed, engine_state::idle,
            "stopped: nothing is captured");
}

// Every part is down: what `after_` asked for.
void engine_machine::stopped(engine_commands& out) {
  for (auto& u : upstreams_)
    u.checking = false;
  out.push_back(command(command_kind::answer_sleepers));
  if (!capture_held_)
    out.push_back(command(command_kind::release_capture));
  if (quit_) {
    release_all(out);
    out.push_back(command(command_kind::quit));
    return;
  }
  switch (after_) {
    case after_stop::idle:
      release_all(out);
      return;
    case after_stop::failed:
      phase_ = engine_phase::failed_holding;
      return;
    case after_stop::restart:
      return begin(out, start_kind::restart);
    case after_stop::reopen_later:
      phase_ = engine_phase::reopen_wait;
      return;
    case after_stop::reopen_now:
      return begin(out, start_kind::reopen);
    case after_stop::pause:
      phase_ = engine_phase::paused_down;
      return;
    case after_stop::wake:
      phase_ = engine_phase::waking_down;
      out.push_back(after(command_kind::look_for_network, {}));
      return;
  }
}

// Failed, failing closed: a target never goes direct by accident. When the
// parts still run (the proxy failed, not the engine), they stay and refuse
// every new flow. When a part died, the others stop but the capture (rules,
// queue) stays: captured packets wait in a queue nobody reads and are
// dropped. Retry or Stop release it.
void engine_machine::fail(engine_commands& out, failure_class failure,
                          const std::string& reason, bool parts_healthy) {
  cancel_timers(); // cancels a pending reconnect or reopen
  publish(out, event_kind::state_changed, engine_state::failed, reason,
          failure);
  if (parts_healthy && parts_running()) {
    phase_ = engine_phase::failed_running;
    return;
  }
  capture_held_ = true;
  if (parts_running()) {
    stop_parts(out, after_stop::failed);
  } else if (phase_ == engine_phase::stopping) {
    after_ = after_stop::failed;
  } else {
    after_ = after_stop::failed;
    stopped(out);
  }
}

engine_commands engine_machine::on_start() {
  engine_commands out;
  switch (phase_) {
    case engine_phase::idle:
    case engine_phase::failed_holding:
      begin(out, start_kind::fresh);
      break;
    case engine_phase::failed_running:
      // Failed with the parts kept (fail closed): stop them, then start.
      cancel_timers();
      stop_parts(out, after_stop::restart);
      break;
    default:
      break; // already running, or on its way
  }
  return out;
}

engine_commands engine_machine::on_retry() {
  if (shown_ == engine_state::failed)
    return on_start();
  // Some proxies failed while others carry their programs: try those again.
  engine_commands out;
  if (phase_ != engine_phase::active && phase_ != engine_phase::reconnecting)
    return out;
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    auto& u = upstreams_[i];
    if (u.health.phase != proxy_phase::failed)
      continue;
    u.health.phase = proxy_phase::checking;
    u.health.reason.clear();
    u.policy = recovery_policy{timing_};
    publish(out, event_kind::info, shown_,
            about(i) + "trying it again (Retry)");
    out.back().event.proxy = u.health.ref.name;
    check(out, i);
  }
  return out;
}

engine_commands engine_machine::on_stop() {
  engine_commands out;
  cancel_timers(); // no reconnect or reopen after a Stop
  if (phase_ == engine_phase::stopping) {
    after_ = after_stop::idle; // whatever was to follow, a Stop wins
    return out;
  }
  if (parts_running()) {
    publish(out, event_kind::info, shown_, "stopping");
    stop_parts(out, after_stop::idle);
    return out;
  }
  // Nothing runs: asleep, waking, between a handle's loss and its reopen,
  // Failed with the capture held, or a start waiting: release the rest.
  if (guard_held_ || capture_held_ || shown_ != engine_state::idle)
    release_all(out);
  phase_ = engine_phase::idle;
  return out;
}

engine_commands engine_machine::on_quit() {
  engine_commands out;
  quit_ = true;
  cancel_timers();
  if (parts_running()) {
    stop_parts(out, after_stop::idle);
  } else if (phase_ != engine_phase::stopping) {
    release_all(out);
    out.push_back(command(command_kind::quit));
  }
  return out;
}

engine_commands
engine_machine::on_parts_started(std::vector<uint32_t> proxy_ips) {
  engine_commands out;
  if (phase_ != engine_phase::starting)
    return out;
  sessions_alive_++;
  for (size_t i = 0; i < upstreams_.size(); ++i)
    upstreams_[i].health.ip = i < proxy_ips.size() ? proxy_ips[i] : 0;
  phase_ = engine_phase::checking;
  publish(out, event_kind::info, engine_state::starting,
          "capture ready (new connections wait for the proxy check); "
          "checking the "
              + std::string{upstreams_.size() == 1 ? "proxy " : "proxies "}
              + proxies_text());
  check_all(out);
  return out;
}

engine_commands engine_machine::on_start_failed(failure_class failure,
                                                const std::string& reason) {
  engine_commands out;
  if (phase_ == engine_phase::starting)
    fail(out, failure, reason);
  return out;
}

engine_commands engine_machine::on_parts_stopped() {
  engine_commands out;
  if (phase_ == engine_phase::stopping)
    stopped(out);
  return out;
}

engine_commands engine_machine::on_session_gone() {
  engine_commands out;
  if (sessions_alive_ > 0)
    sessions_alive_--;
  if (phase_ == engine_phase::waiting_for_old_session && sessions_alive_ == 0)
    begin(out, pending_start_);
  return out;
}

engine_commands engine_machine::on_timer(uint64_t operation) {
  engine_commands out;
  if (operation == 0)
    return out;
  if (phase_ == engine_phase::checking || phase_ == engine_phase::active
      || phase_ == engine_phase::reconnecting) {
    // A proxy's retry, unless a Stop, a Retry or a new series came since.
    for (size_t i = 0; i < upstreams_.size(); ++i) {
      auto& u = upstreams_[i];
      if (u.timer == operation && u.health.phase == proxy_phase::reconnecting) {
        u.timer = 0;
        check(out, i);
      }
    }
    return out;
  }
  if (operation != operation_)
    return out; // a Stop, a Retry or a new series came since
  if (phase_ == engine_phase::reopen_wait)
    begin(out, start_kind::reopen);
  else if (phase_ == engine_phase::stopping
           && after_ == after_stop::reopen_later)
    after_ = after_stop::reopen_now; // the parts are still stopping
  return out;
}

engine_commands engine_machine::on_network(bool route, uint32_t looks) {
  engine_commands out;
  if (phase_ != engine_phase::waking_running
      && phase_ != engine_phase::waking_down)
    return out; // stopped or asleep again meanwhile
  // Wait (bounded) for a route to the proxy; without one the proxy check
  // would only fail and start a reconnect series.
  constexpr uint32_t max_looks = 20; // 5 s
  if (!route && looks < max_looks) {
    auto look
        = after(command_kind::look_for_network, std::chrono::milliseconds{250});
    look.looks = looks + 1;
    out.push_back(look);
    return out;
  }
  if (phase_ == engine_phase::waking_down) {
    begin(out, start_kind::wake);
  } else {
    // The parts kept running through the sleep: check the proxies.
    phase_ = engine_phase::checking;
    check_all(out);
  }
  return out;
}

engine_commands engine_machine::on_part_down(failure_class failure,
                                             const std::string& why,
                                             time_point now) {
  engine_commands out;
  if (!parts_running())
    return out;
  if (failure == failure_class::none)
    failure = failure_class::fatal; // a part never just ends by itself
  if (failure == failure_class::panic) {
    fail(out, failure, why);
    return out;
  }
  auto d = policy_.on_failure(failure, now);
  if (d.action == recovery_action::retry_once) {
    // The packet handle was lost: stop the parts, keep the rules (fail
    // closed), open a new handle after a pause.
    publish(out, event_kind::restart, engine_state::starting,
            "the packet handle was lost (" + why + "); reopening it in "
                + duration_text(d.delay),
            failure, d.attempt);
    auto none = command(command_kind::new_flows); // not proxying
    none.every_proxy = true;
    out.push_back(none);
    capture_held_ = true;
    cancel_timers();
    stop_parts(out, after_stop::reopen_later);
    auto retry = after(command_kind::retry_after, d.delay);
    retry.operation = operation_;
    out.push_back(retry);
    return out;
  }
  fail(out, failure,
       *d.gave_up != '\0' ? std::string{d.gave_up} + " (" + why + ")"
                          : "an engine part stopped: " + why);
  return out;
}

engine_commands engine_machine::on_sleep() {
  engine_commands out;
  auto paused = [&](const char* text) {
    cancel_timers(); // no reconnect attempt while asleep
    reset_policy();  // the wake starts a new series
    reset_proxy_policies();
    publish(out, event_kind::state_changed, engine_state::paused, text,
            failure_class::sleep);
  };
  constexpr auto held_back
      = "the computer is going to sleep: connections closed; the targets' "
        "traffic is held back until it wakes";
  if (phase_ == engine_phase::stopping) {
    if (after_ == after_stop::idle || after_ == after_stop::failed) {
      out.push_back(command(command_kind::answer_sleepers)); // nothing will run
    } else if (after_ != after_stop::pause) {
      // A restart is under way: its parts stay down until the wake (the
      // sleep is answered once they are down).
      paused(held_back);
      after_ = after_stop::pause;
    }
    return out;
  }
  bool start_pending = phase_ == engine_phase::waiting_for_old_session
                       && (pending_start_ == start_kind::reopen
                           || pending_start_ == start_kind::wake);
  if (phase_ == engine_phase::reopen_wait || phase_ == engine_phase::waking_down
      || start_pending) {
    // Between a lost handle and its reopen, or still waking: no reopen
    // while asleep; the wake starts it.
    paused("the computer is going to sleep: nothing is captured until it "
           "wakes");
    if (capture_held_) {
      out.push_back(command(command_kind::release_capture));
      capture_held_ = false;
    }
    phase_ = engine_phase::paused_down;
    out.push_back(command(command_kind::answer_sleepers));
    return out;
  }
  if (!parts_running()) {
    // Idle, Failed with the capture held, or already asleep.
    out.push_back(command(command_kind::answer_sleepers));
    return out;
  }
  if (phase_ != engine_phase::paused_running)
    paused(held_back);
  phase_ = engine_phase::paused_running;
  out.push_back(command(command_kind::end_flows));
  return out;
}

engine_commands engine_machine::on_wake() {
  engine_commands out;
  if (shown_ != engine_state::paused)
    return out;
  publish(out, event_kind::state_changed, engine_state::starting,
          "the computer woke up: waiting for the network",
          failure_class::resume);
  if (phase_ == engine_phase::paused_running) {
    phase_ = engine_phase::waking_running;
    out.push_back(after(command_kind::look_for_network, {}));
  } else if (phase_ == engine_phase::paused_down) {
    phase_ = engine_phase::waking_down;
    out.push_back(after(command_kind::look_for_network, {}));
  } else if (phase_ == engine_phase::stopping) {
    after_ = after_stop::wake; // looks for the network once the parts are down
  }
  return out;
}

engine_commands engine_machine::on_config(const config_change& c) {
  engine_commands out;
  // The parts take [skip] and the flow keys when they start: they restart
  // onto them, the capture staying in place (nothing goes around the
  // proxy meanwhile), as for a new proxy.
  bool reparts = c.skip || c.engine_parts;
  bool restart = (c.proxy || reparts) && parts_running();
  std::vector<bool> fallback_changed(upstreams_.size(), false);
  if (c.proxies.size() == upstreams_.size()) {
    for (size_t i = 0; i < upstreams_.size(); ++i) {
      auto& ref = upstreams_[i].health.ref;
      fallback_changed[i] = ref.udp_direct != c.proxies[i].udp_direct;
      ref = c.proxies[i];
    }
  } else if (!c.proxies.empty()) {
    // Another number of proxies: only with a restart (c.proxy), which
    // checks them all from the start.
    std::vector<upstream> next;
    for (auto& ref : c.proxies) {
      upstream u{{}, recovery_policy{timing_}, false, false, 0};
      u.health.ref = ref;
      next.push_back(std::move(u));
    }
    upstreams_ = std::move(next);
  }
  std::string applied;
  for (auto [changed, name] :
       {std::pair{c.rules, "the rules"}, std::pair{c.targets, "[targets]"},
        std::pair{c.ui, "[ui]"},
        std::pair{c.engine && !c.engine_parts, "[engine]"}})
    if (changed)
      applied += (applied.empty() ? "" : ", ") + std::string{name};
  std::string later = c.engine_parts && c.skip ? "[engine], [skip]"
                      : c.engine_parts         ? "[engine]"
                      : c.skip                 ? "[skip]"
                                               : "";
  std::string text = "the config file changed";
  if (!applied.empty())
    text += "; applied " + applied;
  if (c.proxy)
    text += (upstreams_.size() == 1 ? "; the proxy is now "
                                    : "; the proxies are now ")
            + proxies_text() + (restart ? ": restarting the engine" : "");
  else if (!later.empty())
    text += "; " + later
            + (restart ? ": restarting the engine onto it"
                       : " applies at the next start");
  publish(out, event_kind::config_applied, shown_, text);
  if (phase_ == engine_phase::active && !restart)
    for (size_t i = 0; i < upstreams_.size(); ++i)
      if (fallback_changed[i] && upstreams_[i].health.tcp_only
          && upstreams_[i].health.phase == proxy_phase::up)
        go_active(out, i, 0); // the targets' UDP follows the new fallback
  if (c.engine) {
    timing_ = c.timing;
    // A running series keeps its timing; the next one uses the new.
    reset_policy();
    for (auto& u : upstreams_) {
      if (u.health.phase == proxy_phase::reconnecting) {
        u.timing_pending = true;
      } else {
        u.policy = recovery_policy{timing_};
        u.timing_pending = false;
      }
    }
  }
  if (restart) {
    cancel_timers(); // the old proxy's backoff is over
    stop_parts(out, after_stop::restart);
  }
  return out;
}

} // namespace drover
