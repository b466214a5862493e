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

/// Spawns the watchdog, monitored by `self`: on a thread of its own (the
/// checks block), or scheduled (`own_thread` false: the test coordinator
/// runs it).
guard_watch_actor
spawn_guard_watch(caf::local_actor* self,
                  std::shared_ptr<platform::capture_guard> guard,
                  const supervisor_actor& parent,
                  std::chrono::milliseconds interval, bool own_thread);

/// Stop or Quit: the watchdog ends (unwatched by `self`) and the guard lets
/// the targets go; both handles are emptied. What the OS refused to take
/// away (capture_guard::release), or empty.
std::string
release_guard_and_watch(caf::local_actor* self,
                        std::shared_ptr<platform::capture_guard>& guard,
                        guard_watch_actor& watchdog);

} // namespace drover
