#pragma once

// The system's sleep and wake notifications, for the power-monitor.
// Linux: logind's PrepareForSleep(bool) signal on the system bus (sd-bus),
// holding a "delay" inhibitor lock while awake, so that Drover can close
// its connections and release the capture before the machine sleeps
// (logind waits for the lock up to its InhibitDelayMaxSec, 5 s by default).
// Blocking: run wait() on a thread of its own; stop() and ready_to_sleep()
// from anywhere.

#include <memory>
#include <string>

namespace drover::platform {

class power_events {
public:
  enum class event { sleep, wake, stopped, failed };

  /// Connects to the system bus; error() says why not (then Drover runs
  /// without sleep handling).
  power_events();
  ~power_events();
  power_events(const power_events&) = delete;
  power_events& operator=(const power_events&) = delete;

  bool ok() const;
  const std::string& error() const;

  /// The next notification; `stopped` after stop(), `failed` (see error())
  /// when the bus connection broke.
  event wait();

  /// Drover is ready for sleep: releases the delay lock. The lock is taken
  /// again on wake.
  void ready_to_sleep();

  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace drover::platform
