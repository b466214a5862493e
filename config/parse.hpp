#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/durations.hpp"
#include "config/settings.hpp"

namespace drover::config {

struct parse_result {
  std::optional<settings> value; // set only when there are no errors
  std::vector<diagnostic> errors;
  std::vector<diagnostic> warnings;
  /// Every rule's `paths` and `folders` entry, where it is; the message is
  /// the path (config_file warns about those that do not exist).
  std::vector<diagnostic> program_paths;
  /// The `version` the text has (1 when it names none): below
  /// current_version, the text was brought up to date in memory.
  int file_version = current_version;
  bool ok() const { return value.has_value(); }
};

/// Parses and validates a config file's text. `file` names the source in
/// diagnostics. Every error is collected, not only the first. Keys that are
/// absent take their defaults; unknown keys are warnings.
parse_result parse(std::string_view text, std::string_view file);

/// Renders settings as a complete, commented config file that parse() reads
/// back to the same settings.
std::string serialize(const settings& s);

/// `s` as a TOML basic string, quotes included, as serialize() writes it
/// (the log's redaction looks for secrets in this form too).
std::string toml_string(std::string_view s);

} // namespace drover::config
