#pragma once

// The tray as a library of its own on Linux (drover-tray.so), loaded by
// `drover` only when it shows a tray. The engine, a root process that runs
// for days, then never maps Qt, X11, GL or ICU: 8 MiB less of its memory,
// and none of their code in the privileged process. (Windows links the
// tray into drover.exe: static Qt, one file to install.)

extern "C" {

/// What `drover` hands the tray. `version` must be the tray's own: both
/// come from one build, and a mismatch means a half-replaced installation.
struct drover_tray_launch {
  const char* version;
  const char* config_path;
  int trace;
  // Set when an update's helper started this tray again: what became of
  // the update, and whether the engine was stopped before it.
  const char* after_update;
  int start_stopped;
};

/// The tray's main loop; its exit code.
int drover_tray_main(int argc, char** argv, const drover_tray_launch* launch);
}

namespace drover::tray {

/// The module's file name and where `drover` looks for it: beside the
/// executable (a build tree), then ../lib/drover/ (the package's /usr).
inline constexpr const char* module_file = "drover-tray.so";
inline constexpr const char* module_entry = "drover_tray_main";

} // namespace drover::tray
