#pragma once

#include <chrono>
#include <memory>

#include "actors/platform/capture.hpp"
#include "messages/interfaces.hpp"

namespace drover {

struct guard_watch_state {
  static inline constexpr const char* name = "guard-watch";
  std::shared_ptr<platform::capture_guard> guard;
  supervisor_actor parent;
  std::chrono::milliseconds interval{1000};
  std::string last_error; // said once until it changes
};

/// Checks the capture guard every `interval` and puts back what is missing
/// (within 2 s of its removal at the default 1 s); reports each repair,
/// and each new failure to repair, to `parent`.
guard_watch_actor::behavior_type
guard_watch(guard_watch_actor::stateful_pointer<guard_watch_state> self,
            std::shared_ptr<platform::capture_guard> guard,
            supervisor_actor parent, std::chrono::milliseconds interval);

} // namespace drover
