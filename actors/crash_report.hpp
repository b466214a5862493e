#pragma once

// The crash report a panic leaves in the log folder: what failed and where,
// when, which version, and what led to it (the engine's recent events and
// the last lines of the log and the trace), with credentials redacted.

#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/panic.hpp"
#include "messages/types.hpp"

namespace drover {

struct crash_report {
  panic_details panic;
  std::string version;
  std::vector<engine_event> events; // oldest first
  std::filesystem::path log_file;   // its last lines go in; may be empty
  std::vector<std::string> trace;   // the last trace records (in memory)
};

/// The report of a panic: `panic` (from panic_of(); an exit that is not
/// one made by report_panics() is "an engine part" that failed with
/// `described`), this build's version and system, the engine's recent
/// events, and the log file (flushed first) and the trace's last records.
crash_report assemble_crash_report(panic_details panic,
                                   const std::string& described,
                                   const std::deque<engine_event>& recent);

/// Where a crash report goes: `configured` (tests), else beside the log
/// file, else the default log folder.
std::filesystem::path crash_report_dir(const std::filesystem::path& configured,
                                       const std::filesystem::path& log_file);

/// The report's text.
std::string render(const crash_report& r);

/// Writes the report as crash-YYYYMMDD-HHMMSS.txt in `dir`. Returns the
/// file's path, or an empty path with `error` set.
std::filesystem::path write_crash_report(const std::filesystem::path& dir,
                                         const crash_report& r,
                                         std::string& error);

/// A panic's report, assembled and written to crash_report_dir(`dir`):
/// the sentence for the Failed state, naming the part and the report's
/// file (or why none could be written).
std::string report_panic(panic_details panic, const std::string& described,
                         const std::deque<engine_event>& recent,
                         const std::filesystem::path& dir);

} // namespace drover
