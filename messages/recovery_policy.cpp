#include "messages/recovery_policy.hpp"

#include "messages/recovery.hpp"

namespace drover {

std::chrono::milliseconds
recovery_policy::backoff_delay(uint32_t attempt) const {
  // The design's "1s -> 5s -> 30s cap": the initial delay, one step up by
  // the factor, then the cap.
  auto delay = attempt <= 1   ? timing_.backoff_initial
               : attempt == 2 ? timing_.backoff_initial * timing_.backoff_factor
                              : timing_.backoff_max;
  return delay < timing_.backoff_max ? delay : timing_.backoff_max;
}

recovery_decision recovery_policy::on_failure(failure_class c, time_point now) {
  recovery_decision d;
  d.action = action_for(c);
  switch (d.action) {
    case recovery_action::none:
      d.state = engine_state::active;
      return d;
    case recovery_action::retry_once:
      if (last_driver_loss_
          && now - *last_driver_loss_ < timing_.driver_loss_window) {
        d.action = recovery_action::fail_stop;
        d.state = engine_state::failed;
        d.gave_up = "the packet driver was lost twice in a short time";
        return d;
      }
      last_driver_loss_ = now;
      d.state = engine_state::starting;
      d.delay = timing_.driver_retry_delay;
      d.attempt = 1;
      return d;
    case recovery_action::exp_backoff:
      if (!proxy_series_start_) {
        proxy_series_start_ = now;
        proxy_attempts_ = 0;
      }
      if (now - *proxy_series_start_ >= timing_.backoff_total) {
        d.action = recovery_action::fail_stop;
        d.state = engine_state::failed;
        d.attempt = proxy_attempts_;
        d.gave_up = "the proxy stayed unreachable";
        return d;
      }
      d.attempt = ++proxy_attempts_;
      d.delay = backoff_delay(d.attempt);
      d.state = engine_state::reconnecting;
      return d;
    case recovery_action::pause:
      d.state = engine_state::paused;
      return d;
    case recovery_action::resume:
      d.state = engine_state::starting;
      return d;
    case recovery_action::fail_stop:
      d.state = engine_state::failed;
      return d;
  }
  d.state = engine_state::failed;
  return d;
}

void recovery_policy::on_active() {
  proxy_series_start_.reset();
  proxy_attempts_ = 0;
}

void recovery_policy::reset() {
  on_active();
  last_driver_loss_.reset();
}

} // namespace drover
