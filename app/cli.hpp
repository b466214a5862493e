#pragma once

#include <iosfwd>

namespace drover::cli {

/// Exit codes, stable for scripts.
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1,    // bad config, bad usage, a failed check
  exit_permission = 2, // missing privileges (administrator, capabilities)
};

/// Parses the command line and runs the chosen command. Returns the exit
/// code. Messages for the user go to `out` and `err`.
int run(int argc, const char* const* argv, std::ostream& out,
        std::ostream& err);

} // namespace drover::cli
