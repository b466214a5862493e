#pragma once

// How many spare proxy connections a burst of new connections wants: the
// rule the Linux relay and the engine's own sessions (Windows) share. A
// lone connection now and then asks for none (nothing is opened that a
// burst did not ask for); a sequence of them for one fewer than the busier
// of this second and the one before, up to the configured number.

#include <algorithm>
#include <chrono>

namespace drover::net {

class spare_demand {
public:
  using clock = std::chrono::steady_clock;

  /// A proxied connection came at `now`.
  void note(clock::time_point now) {
    roll(now);
    ++this_second_;
  }

  /// The spares wanted at `now`, at most `limit`.
  unsigned wanted(clock::time_point now, unsigned limit) {
    roll(now);
    auto burst = std::max(this_second_, second_before_);
    return burst < 2 ? 0u : std::min(limit, burst - 1);
  }

  /// The burst is over (the way to the proxy changed: sleep, a restart).
  void forget() { this_second_ = second_before_ = 0; }

private:
  void roll(clock::time_point now) {
    if (now - second_start_ < std::chrono::seconds{1})
      return;
    second_before_
        = now - second_start_ < std::chrono::seconds{2} ? this_second_ : 0;
    this_second_ = 0;
    second_start_ = now;
  }

  clock::time_point second_start_{};
  unsigned this_second_ = 0, second_before_ = 0;
};

} // namespace drover::net
