#include "messages/engine_machine.hpp"

#include "net/packet.hpp"

namespace drover {

namespace {

engine_command command(command_kind kind) {
  engine_command c;
  c.kind = kind;
  return c;
}

engine_command after(command_kind kind, std::chrono::milliseconds delay) {
  auto c = command(kind);
  c.delay = delay;
  return c;
}

} // namespace

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

const char* to_string(proxy_phase p) {
  switch (p) {
    case proxy_phase::checking:
      return "checking";
    case proxy_phase::up:
      return "up";
    case proxy_phase::reconnecting:
      return "reconnecting";
    case proxy_phase::failed:
      return "failed";
  }
  return "checking";
}

void engine_machine::set_udp_fallback(bool direct) {
  for (auto& u : upstreams_)
    u.health.ref.udp_direct = direct;
}

std::vector<proxy_health> engine_machine::proxies() const {
  std::vector<proxy_health> out;
  for (auto& u : upstreams_)
    out.push_back(u.health);
  return out;
}

bool engine_machine::checking() const {
  for (auto& u : upstreams_)
    if (u.checking)
      return true;
  return false;
}

std::string engine_machine::proxy_text(size_t i) const {
  auto& ref = upstreams_[i].health.ref;
  auto where = ref.host + ":" + std::to_string(ref.port);
  return upstreams_.size() == 1 || ref.name.empty()
             ? where
             : ref.name + " (" + where + ")";
}

std::string engine_machine::proxies_text() const {
  std::string out;
  for (size_t i = 0; i < upstreams_.size(); ++i)
    out += (i == 0 ? "" : ", ") + proxy_text(i);
  return out;
}

std::string engine_machine::about(size_t i) const {
  return upstreams_.size() == 1 ? std::string{}
                                : "proxy " + proxy_text(i) + ": ";
}

// Proxy `i`'s policy, then Active: through it, or (a TCP-only proxy) TCP
// through it and UDP as the fallback says.
void engine_machine::go_active(engine_commands& out, size_t i,
                               uint32_t attempts) {
  auto& h = upstreams_[i].health;
  auto flows = command(command_kind::new_flows);
  flows.proxying = true;
  flows.udp_proxying = !h.tcp_only;
  flows.proxy = static_cast<uint32_t>(i);
  out.push_back(flows);
  h.phase = proxy_phase::up;
  h.attempt = 0;
  h.reason.clear();
  std::string text
      = (h.tcp_only ? "proxying TCP through " : "proxying through ")
        + proxy_text(i)
        + (attempts > 0 ? " (reconnected after " + std::to_string(attempts)
                              + " attempts)"
                        : "");
  if (h.tcp_only)
    text += "; voice cannot go through this proxy: it does not relay UDP"
            + (h.udp_reason.empty() ? std::string{} : " (" + h.udp_reason + ")")
            + (h.ref.udp_direct ? ", so the targets' UDP goes direct "
                                  "(when_not_proxying = \"direct\")"
                                : ", so the targets' UDP is blocked; use a "
                                  "proxy with UDP ASSOCIATE for voice");
  phase_ = phase_of_proxies();
  publish(out, event_kind::state_changed, engine_state::active, text);
  out.back().event.proxy = upstreams_.size() > 1 ? h.ref.name : std::string{};
  out.back().event.tcp_only = h.tcp_only;
}

// While the parts run: active when any proxy is up, reconnecting when
// none is but one is retried, failed when every one failed, else checking.
engine_phase engine_machine::phase_of_proxies() const {
  bool any_reconnecting = false;
  bool all_failed = true;
  for (auto& u : upstreams_) {
    if (u.health.phase == proxy_phase::up)
      return engine_phase::active;
    any_reconnecting |= u.health.phase == proxy_phase::reconnecting;
    all_failed &= u.health.phase == proxy_phase::failed;
  }
  return all_failed         ? engine_phase::failed_running
         : any_reconnecting ? engine_phase::reconnecting
                            : engine_phase::checking;
}

engine_state engine_machine::state_of_proxies() const {
  switch (phase_of_proxies()) {
    case engine_phase::active:
      return engine_state::active;
    case engine_phase::reconnecting:
      return engine_state::reconnecting;
    case engine_phase::failed_running:
      return engine_state::failed;
    default:
      return engine_state::starting;
  }
}

void engine_machine::cancel_timers() {
  operation_++;
  for (auto& u : upstreams_)
    u.timer = 0;
}

void engine_machine::reset_proxy_policies() {
  for (auto& u : upstreams_) {
    u.policy = recovery_policy{timing_};
    u.timing_pending = false;
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

void engine_machine::check(engine_commands& out, size_t i) {
  auto& u = upstreams_[i];
  if (u.checking)
    return;
  u.checking = true;
  auto c = command(command_kind::check_proxy);
  c.proxy = static_cast<uint32_t>(i);
  out.push_back(c);
}

// Every proxy from its first check again (the parts started, or woke up).
void engine_machine::check_all(engine_commands& out) {
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    auto& h = upstreams_[i].health;
    h.phase = proxy_phase::checking;
    h.attempt = 0;
    h.reason.clear();
    upstreams_[i].timer = 0;
    check(out, i);
  }
}

// Proxy `i` refused us, or was unreachable for too long: its targets fail
// closed (their fallback) until Retry; the others keep proxying. When it
// was the last one, the engine is Failed.
void engine_machine::proxy_failed(engine_commands& out, size_t i,
                                  failure_class failure,
                                  const std::string& reason) {
  auto& u = upstreams_[i];
  u.health.phase = proxy_phase::failed;
  u.health.reason = reason;
  u.timer = 0;
  if (phase_of_proxies() == engine_phase::failed_running) {
    fail(out, failure, about(i) + reason, true);
    return;
  }
  phase_ = phase_of_proxies();
  publish(out, event_kind::state_changed, state_of_proxies(),
          about(i) + reason
              + "; its programs follow their fallback until you choose Retry",
          failure);
  out.back().event.proxy = u.health.ref.name;
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

engine_commands engine_machine::on_check(const check_result& c,
                                         time_point now) {
  engine_commands out;
  if (c.proxy >= upstreams_.size())
    return out;
  auto i = static_cast<size_t>(c.proxy);
  auto& u = upstreams_[i];
  auto& h = u.health;
  u.checking = false;
  if (phase_ != engine_phase::checking && phase_ != engine_phase::active
      && phase_ != engine_phase::reconnecting)
    return out; // stopped, given up or asleep meanwhile
  if (h.phase == proxy_phase::failed)
    return out; // given up meanwhile: Retry checks it again
  if (c.proxy_ip != 0 && c.proxy_ip != h.ip) {
    // The name points elsewhere now; the capture excludes the old address
    // and the sessions use it: start again on the new one.
    publish(out, event_kind::info, shown_,
            "the proxy " + h.ref.host + " is now at "
                + net::to_string(net::ipv4_address{c.proxy_ip}) + " (was "
                + (h.ip == 0 ? std::string{"not found"}
                             : net::to_string(net::ipv4_address{h.ip}))
                + "): restarting the engine");
    cancel_timers();
    stop_parts(out, after_stop::restart);
    return out;
  }
  if (c.ok) {
    bool udp_changed = h.tcp_only == c.udp || h.udp_reason != c.udp_reason;
    h.tcp_only = !c.udp;
    h.udp_reason = c.udp ? std::string{} : c.udp_reason;
    if (h.phase == proxy_phase::up) {
      // A session's trouble was its own, the proxy is fine; unless the
      // proxy relays UDP now, or no longer does.
      if (udp_changed)
        go_active(out, i, 0);
      return out;
    }
    auto attempts = h.phase == proxy_phase::reconnecting ? h.attempt : 0u;
    u.policy.on_active();
    if (u.timing_pending) {
      u.policy = recovery_policy{timing_};
      u.timing_pending = false;
    }
    go_active(out, i, attempts);
    return out;
  }
  auto stop_flows = command(command_kind::new_flows); // not proxying
  stop_flows.proxy = static_cast<uint32_t>(i);
  out.push_back(stop_flows);
  if (c.failure != failure_class::proxy_unreachable) {
    proxy_failed(out, i, c.failure, c.reason); // retrying changes nothing
    return out;
  }
  auto d = u.policy.on_failure(failure_class::proxy_unreachable, now);
  if (d.action != recovery_action::exp_backoff) {
    proxy_failed(out, i, failure_class::proxy_unreachable,
                 std::string{d.gave_up} + " for "
                     + duration_text(u.policy.timing().backoff_total) + " ("
                     + c.reason
                     + "); new connections are refused until you choose "
                       "Retry or Stop");
    return out;
  }
  u.timer = ++operation_;
  h.phase = proxy_phase::reconnecting;
  h.attempt = d.attempt;
  h.reason = c.reason;
  phase_ = phase_of_proxies();
  publish(out, event_kind::reconnect_attempt, state_of_proxies(),
          "cannot reach the proxy " + proxy_text(i) + " (" + c.reason
              + "); attempt " + std::to_string(d.attempt) + ", next try in "
              + duration_text(d.delay),
          failure_class::proxy_unreachable, d.attempt);
  out.back().event.proxy = upstreams_.size() > 1 ? h.ref.name : std::string{};
  auto retry = after(command_kind::retry_after, d.delay);
  retry.operation = u.timer;
  retry.proxy = static_cast<uint32_t>(i);
  out.push_back(retry);
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

engine_commands engine_machine::on_check_wanted(uint32_t proxy) {
  engine_commands out;
  if (phase_ == engine_phase::active && proxy < upstreams_.size()
      && upstreams_[proxy].health.phase == proxy_phase::up)
    check(out, proxy);
  return out;
}

// The computer is about to sleep: every connection closes and the targets'
// packets are dropped until the wake (the capture stays: fail closed); the
// OS is answered once that is done. A proxy connection would not survive
// the sleep anyway.
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
  bool restart = c.proxy && parts_running();
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
        std::pair{c.ui, "[ui]"}})
    if (changed)
      applied += (applied.empty() ? "" : ", ") + std::string{name};
  std::string later = c.engine && c.skip ? "[engine], [skip]"
                      : c.engine         ? "[engine]"
                      : c.skip           ? "[skip]"
                                         : "";
  std::string text = "the config file changed";
  if (!applied.empty())
    text += "; applied " + applied;
  if (c.proxy)
    text += (upstreams_.size() == 1 ? "; the proxy is now "
                                    : "; the proxies are now ")
            + proxies_text() + (restart ? ": restarting the engine" : "");
  else if (!later.empty() && parts_running())
    text += "; " + later + " apply at the next start";
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
