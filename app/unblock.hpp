#pragma once

// `drover unblock`: after an engine was killed while proxying (an
// out-of-memory kill, `kill -9`, a crash), what it left to keep the chosen
// programs offline stays in force, by design, until Drover runs again. This
// removes it, so that they go direct: for a user who does not want Drover
// back, and for the uninstallers, which would otherwise leave the programs
// offline until the computer restarts.

#include <ostream>

namespace drover::cli {

/// Run with the capture's privileges, holding the control endpoint (so no
/// engine starts meanwhile). Says what was removed, or that nothing was
/// there, or why not; returns the exit code. A running engine's capture
/// is never touched.
int unblock(std::ostream& out, std::ostream& err);

} // namespace drover::cli
