#pragma once

// Linux: runs the tray from its own library (app/tray/module.hpp), so that
// `drover` itself, and so the engine, links no Qt.

#include <iosfwd>

#include "app/cli.hpp"

namespace drover::cli {

/// Loads drover-tray.so (beside the executable, or ../lib/drover/) and
/// runs it; when it is missing or broken, says so on `err` and returns
/// exit_failure.
int run_tray_module(int argc, char** argv, const tray_request& request,
                    std::ostream& err);

} // namespace drover::cli
