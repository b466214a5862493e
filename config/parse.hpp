#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/settings.hpp"

namespace drover::config {

struct parse_result {
  std::optional<settings> value; // set only when there are no errors
  std::vector<diagnostic> errors;
  std::vector<diagnostic> warnings;
  bool ok() const { return value.has_value(); }
};

/// Parses and validates a config file's text. `file` names the source in
/// diagnostics. Every error is collected, not only the first. Keys that are
/// absent take their defaults; unknown keys are warnings.
parse_result parse(std::string_view text, std::string_view file);

/// Parses a duration written as a whole number and one unit: "500ms", "5s",
/// "5m", "1h". Nothing else is accepted (no sign, space, fraction or bare
/// number), so a typo cannot turn into a surprising value.
std::optional<duration> parse_duration(std::string_view text);

/// The inverse of parse_duration, in the largest unit that is exact.
std::string format_duration(duration d);

/// Renders settings as a complete, commented config file that parse() reads
/// back to the same settings.
std::string serialize(const settings& s);

/// `s` as a TOML basic string, quotes included, as serialize() writes it
/// (the log's redaction looks for secrets in this form too).
std::string toml_string(std::string_view s);

} // namespace drover::config
