// The engine machine's second part: each proxy's health (its checks, its
// backoff series and timer, up or failed) and what the engine's phase and
// shown state are, given them. The lifecycle (start, stop, sleep, a lost
// handle, a config change) is in engine_machine.cpp.

#include "messages/engine_machine.hpp"
#include "messages/engine_machine_detail.hpp"

#include "net/packet.hpp"

namespace drover {

using machine_detail::after;
using machine_detail::command;

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

} // namespace drover
