#pragma once

#include <memory>

#include "actors/os_thread.hpp"
#include "messages/interfaces.hpp"

namespace drover::platform {
class power_events;
}

namespace drover {

struct power_monitor_state {
  static inline constexpr const char* name = "power-monitor";
  /// How long the supervisor may take to pause before the OS is let go
  /// (logind's own limit is 5 s by default).
  static constexpr auto pause_budget = std::chrono::seconds{4};

  supervisor_actor supervisor;
  std::shared_ptr<platform::power_events> events;
  os_thread waiter; // blocked in platform::power_events::wait()
};

/// Tells the supervisor when the system sleeps and wakes. Where the OS
/// gives no notifications (no system bus), it logs that once and idles.
power_monitor_actor::behavior_type
power_monitor(power_monitor_actor::stateful_pointer<power_monitor_state> self,
              supervisor_actor supervisor);

} // namespace drover
