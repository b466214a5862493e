#pragma once

// The last step of an update on Windows (docs/updates.md), run by a copy of
// drover.exe that the tray leaves behind when it quits (the installer ends
// every drover.exe): waits for the tray to end, checks once more that the
// installer is the file whose SHA-256 the signed list gave (held open so
// that nothing changes it until it has run), runs it silently with
// administrator rights, and starts Drover again, saying what became of
// the update and keeping the engine stopped when it was.

#include <cstdint>
#include <ostream>
#include <string>

namespace drover::cli {

struct finish_update_request {
  std::string installer; // the verified installer
  std::string sha256;    // its digest, as the signed list gives it
  std::string version;   // the version it installs, for the message
  std::string restart;   // drover.exe, as installed
  uint32_t wait_pid = 0; // the tray that handed over
  bool start_stopped = false;
};

/// Runs the update; 0 when the installer succeeded. Windows only.
int finish_update(const finish_update_request& r, std::ostream& err);

} // namespace drover::cli
