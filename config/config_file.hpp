#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/settings.hpp"

namespace drover::config {

/// The largest config file Drover reads (a real one is a few KiB).
constexpr size_t max_file_bytes = 256 * 1024;

/// The config file and the settings in force. A broken file never replaces
/// good settings: load() keeps the last good ones (or the defaults, when
/// there never were any) and reports what is wrong.
class config_file {
public:
  enum class status {
    loaded,     // the file was read and is now in force
    missing,    // no file; the settings in force did not change
    unreadable, // the file exists but could not be read
    invalid,    // the file has errors; the settings in force did not change
  };

  struct load_report {
    status outcome = status::missing;
    std::vector<diagnostic> errors;
    std::vector<diagnostic> warnings;
    /// The file's own version when it is older than this Drover's (it was
    /// brought up to date in memory; upgrade() writes it so); else 0.
    int older_version = 0;
  };

  explicit config_file(std::filesystem::path path);

  /// Reads and validates the file.
  load_report load();

  /// Validates `text` and, when it has no error, writes it atomically
  /// (owner-only on Linux) as it is, comments and all; then it is in force.
  /// The report says what was wrong (invalid), or that it could not be
  /// written (unreadable, with the reason).
  load_report replace(const std::string& text);

  /// The file loaded last is of an older version: keeps it as it is
  /// beside itself ("config.toml.v1", comments and all) and writes the
  /// settings in force in the current version in its place. Returns what
  /// was done, for the log, or an empty string when nothing was to do;
  /// `error` when it could not.
  std::string upgrade(std::string& error);

  /// Writes `s` atomically (owner-only on Linux); on success it is in force.
  /// Returns an empty string on success, otherwise what went wrong.
  std::string save(const settings& s);

  const settings& current() const { return current_; }
  /// True once a file was loaded or saved successfully.
  bool has_good() const { return has_good_; }
  const std::filesystem::path& path() const { return path_; }

private:
  std::string last_text_;              // what load() or replace() saw last
  int last_version_ = current_version; // the version of that text
  std::filesystem::path path_;
  settings current_;
  bool has_good_ = false;
};

/// Of a parse's `program_paths` (each rule's program files and folders,
/// the message the path), those that are not there (yet): the rule
/// applies once they are, but a typing mistake would wait forever without
/// a word. Only where the user looks with their own rights (`config
/// check`, the tray's Settings): the engine, as root, would tell the user
/// whether paths they may not see exist.
std::vector<diagnostic> missing_programs(std::vector<diagnostic> paths);

/// Reads and validates a file without keeping state (`drover config check`).
config_file::load_report check_file(const std::filesystem::path& path);

} // namespace drover::config
