#pragma once

// What WinDivert's Windows error codes mean for a user, and what the engine
// does about them: pure, so every row is unit-tested on Linux and under
// wine. Codes and causes: WinDivert 2.2's documentation (WinDivertOpen,
// WinDivertRecv) and the driver's source (basil00/WinDivert v2.2.2).

#include <cstdint>
#include <string>

#include "actors/platform/capture.hpp"

namespace drover::platform::windivert {

struct open_error {
  capture_failure failure = capture_failure::unavailable;
  std::string text; // what happened and what to do, for the user
};

/// WinDivertOpen failed with `code` (GetLastError).
open_error explain_open_error(uint32_t code);

/// What a failed receive means.
enum class recv_outcome {
  stopped,     // the handle was shut down on purpose: the reader ends
  handle_lost, // the driver or handle is gone (DriverLost): reopen
};

recv_outcome classify_recv_error(uint32_t code);

} // namespace drover::platform::windivert
