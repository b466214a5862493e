#pragma once

// The E3 supervision strategies as a pure state machine: given a failure
// class and the time, what the supervisor does next, after how long, and
// which attempt that is. No actors and no clocks of its own (the caller
// passes `now`), so every row and every backoff step is unit-tested.
//
//   DriverLost        reopen once after `driver_retry_delay`; a second loss
//                     within `driver_loss_window` of the first -> Failed
//   ProxyUnreachable  Reconnecting, retries after 1 s, 5 s, then every
//                     `backoff_max` (the design's 1s -> 5s -> 30s cap: the
//                     initial delay, x5 once, then the cap); Failed once the
//                     proxy has been unreachable for `backoff_total`
//   Sleep / Resume    Paused / start again once the network is back
//   everything else   Failed at once (DriverGone, AuthRejected, Panic, Fatal)

#include <chrono>
#include <cstdint>
#include <optional>

#include "messages/types.hpp"

namespace drover {

struct recovery_timing {
  std::chrono::milliseconds driver_retry_delay{2000};
  std::chrono::milliseconds driver_loss_window{30000};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds backoff_total{300000};
  uint32_t backoff_factor = 5;
};

struct recovery_decision {
  recovery_action action = recovery_action::none;
  /// The state to show while the decision runs: Starting (driver reopen),
  /// Reconnecting, Paused, Failed, or unchanged (action none).
  engine_state state = engine_state::idle;
  /// When to try again (retry_once, exp_backoff).
  std::chrono::milliseconds delay{0};
  /// 1 for the first retry of a series, then 2, 3, ...
  uint32_t attempt = 0;
  /// Why it is giving up, when it gives up on a retryable class ("the proxy
  /// has been unreachable for 5 min"); empty otherwise.
  const char* gave_up = "";
};

class recovery_policy {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit recovery_policy(recovery_timing timing = {}) : timing_(timing) {}

  /// The decision for a failure of class `c` at `now`.
  recovery_decision on_failure(failure_class c, time_point now);

  /// The engine reached Active: a series of proxy retries is over.
  void on_active();

  /// The user stopped or retried: forget every series.
  void reset();

  /// The delay before retry number `attempt` (1-based) of a proxy series.
  std::chrono::milliseconds backoff_delay(uint32_t attempt) const;

  const recovery_timing& timing() const { return timing_; }

private:
  recovery_timing timing_;
  std::optional<time_point> last_driver_loss_;
  std::optional<time_point> proxy_series_start_;
  uint32_t proxy_attempts_ = 0;
};

} // namespace drover
