#pragma once

// `drover report`: one archive a user attaches to a bug report, with what
// a developer asks for first: the versions, the config (logins and
// passwords hidden), `status --json`, the check's answer and the end of
// the log. Made from the running engine's answers when one runs (it has
// the passwords and the paths), else from the files this user may read.

#include <filesystem>
#include <ostream>
#include <string>

namespace drover::cli {

struct report_options {
  std::filesystem::path archive;     // where to write it (a .zip)
  std::filesystem::path config_path; // the config file when none runs
  std::filesystem::path log_dir;     // the log's folder when none runs
  std::string version;               // "drover 0.1.0 (Linux, ...)"
  bool check = true; // run the check (through the engine: up to a minute)
};

/// Writes the archive; 0, or 1 with what went wrong said on `err`. Says
/// on `out` where it is and what it holds.
int write_report(const report_options& o, std::ostream& out, std::ostream& err);

/// The config text with every proxy's login and password replaced: what
/// a report may carry. Text that does not parse is kept out whole (its
/// error said instead).
std::string config_for_report(const std::string& text);

} // namespace drover::cli
