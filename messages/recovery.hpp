#pragma once

// The E3 recovery table (seed §"E3 recovery rules") as pure functions: the
// supervisor maps a child's exit reason to a failure class, and the class
// to an action. Kept free of actors so every row is unit-tested.

#include <caf/error.hpp>

#include "messages/error.hpp"
#include "messages/types.hpp"

namespace drover {

/// The failure class of an engine error code.
constexpr failure_class classify(ec code) {
  switch (code) {
    case ec::none:
      return failure_class::none;
    case ec::driver_lost:
      return failure_class::driver_lost;
    case ec::driver_gone:
    case ec::driver_blocked:
    case ec::driver_outdated:
      return failure_class::driver_gone;
    case ec::proxy_unreachable:
      return failure_class::proxy_unreachable;
    case ec::proxy_auth_rejected:
      return failure_class::auth_rejected;
    case ec::panic:
      return failure_class::panic;
    case ec::system_sleep:
      return failure_class::sleep;
    case ec::system_resume:
      return failure_class::resume;
    case ec::unspecified:
    case ec::config_invalid:
    case ec::config_unreadable:
    case ec::not_permitted:
    case ec::proxy_protocol:
      return failure_class::fatal;
  }
  return failure_class::fatal;
}

/// The failure class of any CAF error: ours by code; CAF's own
/// runtime_error (an exception escaped a handler) is a panic; a normal exit
/// is none; everything else is fatal.
failure_class classify(const caf::error& err);

/// The action for a failure class.
constexpr recovery_action action_for(failure_class c) {
  switch (c) {
    case failure_class::none:
      return recovery_action::none;
    case failure_class::driver_lost:
      return recovery_action::retry_once;
    case failure_class::proxy_unreachable:
      return recovery_action::exp_backoff;
    case failure_class::sleep:
      return recovery_action::pause;
    case failure_class::resume:
      return recovery_action::resume;
    case failure_class::driver_gone:
    case failure_class::auth_rejected:
    case failure_class::panic:
    case failure_class::fatal:
      return recovery_action::fail_stop;
  }
  return recovery_action::fail_stop;
}

} // namespace drover
