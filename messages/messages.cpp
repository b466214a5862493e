#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <cstdio>

#include "messages/atoms.hpp"
#include "messages/engine_machine.hpp"
#include "messages/recovery.hpp"
#include "messages/types.hpp"

namespace drover {

std::string to_string(ec x) {
  switch (x) {
    case ec::none:
      return "none";
    case ec::unspecified:
      return "unspecified";
    case ec::config_invalid:
      return "config_invalid";
    case ec::config_unreadable:
      return "config_unreadable";
    case ec::driver_lost:
      return "driver_lost";
    case ec::driver_gone:
      return "driver_gone";
    case ec::driver_blocked:
      return "driver_blocked";
    case ec::driver_outdated:
      return "driver_outdated";
    case ec::not_permitted:
      return "not_permitted";
    case ec::proxy_unreachable:
      return "proxy_unreachable";
    case ec::proxy_auth_rejected:
      return "proxy_auth_rejected";
    case ec::proxy_protocol:
      return "proxy_protocol";
    case ec::panic:
      return "panic";
    case ec::system_sleep:
      return "system_sleep";
    case ec::system_resume:
      return "system_resume";
  }
  return "unknown";
}

const char* to_string(engine_state x) {
  switch (x) {
    case engine_state::idle:
      return "idle";
    case engine_state::starting:
      return "starting";
    case engine_state::active:
      return "active";
    case engine_state::reconnecting:
      return "reconnecting";
    case engine_state::paused:
      return "paused";
    case engine_state::failed:
      return "failed";
  }
  return "unknown";
}

const char* to_string(net::stream_news::kind x) {
  using kind = net::stream_news::kind;
  switch (x) {
    case kind::opened:
      return "opened";
    case kind::opened_direct:
      return "opened_direct";
    case kind::progress:
      return "progress";
    case kind::ended:
      return "ended";
    case kind::declined:
      return "declined";
    case kind::not_redirected:
      return "not_redirected";
    case kind::dropped:
      return "dropped";
  }
  return "unknown";
}

const char* to_string(engine_phase p) {
  switch (p) {
    case engine_phase::idle:
      return "idle";
    case engine_phase::waiting_for_old_session:
      return "waiting-for-old-session";
    case engine_phase::starting:
      return "starting";
    case engine_phase::checking:
      return "checking";
    case engine_phase::active:
      return "active";
    case engine_phase::reconnecting:
      return "reconnecting";
    case engine_phase::failed_running:
      return "failed-running";
    case engine_phase::failed_holding:
      return "failed-holding";
    case engine_phase::reopen_wait:
      return "reopen-wait";
    case engine_phase::stopping:
      return "stopping";
    case engine_phase::paused_running:
      return "paused-running";
    case engine_phase::paused_down:
      return "paused-down";
    case engine_phase::waking_running:
      return "waking-running";
    case engine_phase::waking_down:
      return "waking-down";
  }
  return "?";
}

const char* to_string(new_flow_policy x) {
  switch (x) {
    case new_flow_policy::proxy:
      return "proxy";
    case new_flow_policy::refuse:
      return "refuse";
    case new_flow_policy::direct:
      return "direct";
    case new_flow_policy::drop:
      return "drop";
  }
  return "unknown";
}

const char* to_string(failure_class x) {
  switch (x) {
    case failure_class::none:
      return "none";
    case failure_class::driver_lost:
      return "driver_lost";
    case failure_class::driver_gone:
      return "driver_gone";
    case failure_class::proxy_unreachable:
      return "proxy_unreachable";
    case failure_class::auth_rejected:
      return "auth_rejected";
    case failure_class::panic:
      return "panic";
    case failure_class::sleep:
      return "sleep";
    case failure_class::resume:
      return "resume";
    case failure_class::fatal:
      return "fatal";
  }
  return "unknown";
}

const char* to_string(recovery_action x) {
  switch (x) {
    case recovery_action::none:
      return "none";
    case recovery_action::retry_once:
      return "retry_once";
    case recovery_action::exp_backoff:
      return "exp_backoff";
    case recovery_action::fail_stop:
      return "fail_stop";
    case recovery_action::pause:
      return "pause";
    case recovery_action::resume:
      return "resume";
  }
  return "unknown";
}

const char* to_string(event_kind x) {
  switch (x) {
    case event_kind::state_changed:
      return "state_changed";
    case event_kind::restart:
      return "restart";
    case event_kind::reconnect_attempt:
      return "reconnect_attempt";
    case event_kind::config_error:
      return "config_error";
    case event_kind::config_applied:
      return "config_applied";
    case event_kind::info:
      return "info";
  }
  return "unknown";
}

std::string bytes_text(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B",
                  static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

const char* label(const engine_event& e) {
  switch (e.kind) {
    case event_kind::config_error:
      return "config error";
    case event_kind::config_applied:
      return "config";
    default:
      return to_string(e.state);
  }
}

failure_class classify(const caf::error& err) {
  if (!err)
    return failure_class::none;
  if (err.category() == caf::atom("drover"))
    return classify(static_cast<ec>(err.code()));
  if (err.category() == caf::atom("system")
      && err.code() == static_cast<uint8_t>(caf::sec::runtime_error))
    return failure_class::panic;
  // A normal exit, or one the engine asked for while stopping, is no failure.
  if (err.category() == caf::atom("exit")
      && (err.code() == static_cast<uint8_t>(caf::exit_reason::normal)
          || err.code()
                 == static_cast<uint8_t>(caf::exit_reason::user_shutdown)))
    return failure_class::none;
  return failure_class::fatal;
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::drover>();
  // CAF 0.17.6's add_error_category<T> does not compile (its renderer
  // lambda has the wrong signature), so the renderer is spelled out.
  cfg.add_error_category(caf::atom("drover"), [](uint8_t code, caf::atom_value,
                                                 const caf::message& ctx) {
    auto text = "drover: " + to_string(static_cast<ec>(code));
    if (!ctx.empty())
      text += " (" + caf::to_string(ctx) + ")";
    return text;
  });
}

} // namespace drover
