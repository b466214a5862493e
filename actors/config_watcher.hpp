#pragma once

#include "actors/os_thread.hpp"
#include "config/config_file.hpp"
#include "messages/interfaces.hpp"

namespace drover {

struct config_watcher_state {
  static inline constexpr const char* name = "config-watcher";
  /// Editors write in several steps (truncate, write, rename, chmod): read
  /// once they went quiet for this long.
  static constexpr auto quiet_time = std::chrono::milliseconds{200};

  config::config_file file{""}; // the settings in force and the last good
  supervisor_actor supervisor;
  bool trace_flag = false; // --trace: tracing stays on whatever the level
  uint64_t generation = 0; // the latest change; older timers are stale
  os_thread watcher;       // blocked in platform::file_watch::wait()
};

/// Watches `file` (already loaded: its settings are the ones in force) and
/// tells the supervisor about every change: config_changed with what
/// changed, or config_error when the file is broken (the settings in force
/// stay). Applies the log level and the log redaction itself.
config_watcher_actor::behavior_type config_watcher(
    config_watcher_actor::stateful_pointer<config_watcher_state> self,
    config::config_file file, supervisor_actor supervisor, bool trace_flag);

/// What differs between two configs, as the supervisor acts on it.
config_changed diff(const config::settings& before,
                    const config::settings& after);

} // namespace drover
