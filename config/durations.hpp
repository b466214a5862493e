#pragma once

// Durations as the config file writes them: a whole number and one unit.

#include <optional>
#include <string>
#include <string_view>

#include "config/settings.hpp"

namespace drover::config {

/// Parses a duration written as a whole number and one unit: "500ms", "5s",
/// "5m", "1h". Nothing else is accepted (no sign, space, fraction or bare
/// number), so a typo cannot turn into a surprising value.
std::optional<duration> parse_duration(std::string_view text);

/// The inverse of parse_duration, in the largest unit that is exact.
std::string format_duration(duration d);

} // namespace drover::config
