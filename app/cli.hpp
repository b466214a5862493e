#pragma once

#include <functional>
#include <iosfwd>
#include <string>

namespace drover::cli {

/// Exit codes, stable for scripts.
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1,    // bad config, bad usage, a failed check
  exit_permission = 2, // missing privileges (administrator, capabilities)
};

/// What the tray needs from the command line.
struct tray_request {
  std::string config_path;    // --config, or the default
  bool trace = false;         // --trace
  std::string after_update;   // --after-update (an update's helper)
  bool start_stopped = false; // --start-stopped
};

/// The tray, when this build has one: `drover` with no command on a desktop
/// runs it (the command line itself stays free of Qt).
using tray_runner = std::function<int(const tray_request&)>;
void set_tray_runner(tray_runner runner);

/// Parses the command line and runs the chosen command. Returns the exit
/// code. Messages for the user go to `out` and `err`.
int run(int argc, const char* const* argv, std::ostream& out,
        std::ostream& err);

} // namespace drover::cli
