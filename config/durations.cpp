#include "config/durations.hpp"

#include <cstdint>

namespace drover::config {

std::optional<duration> parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0 || digits > 9)
    return std::nullopt;
  int64_t n = 0;
  for (size_t i = 0; i < digits; ++i)
    n = n * 10 + (text[i] - '0');
  auto unit = text.substr(digits);
  if (unit == "ms")
    return duration{n};
  if (unit == "s")
    return std::chrono::seconds{n};
  if (unit == "m")
    return std::chrono::minutes{n};
  if (unit == "h")
    return std::chrono::hours{n};
  return std::nullopt;
}

std::string format_duration(duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0)
    return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0)
    return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

} // namespace drover::config
