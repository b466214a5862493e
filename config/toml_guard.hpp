#pragma once

// What the TOML library must not be shown. toml++ 3.3.0 (Debian 12's)
// reaches undefined behaviour (__builtin_unreachable) when it asks whether
// a non-ASCII character is whitespace, for most characters from U+00A1 up
// (Latin letters with accents, all of Cyrillic), which happens wherever
// such a character stands outside quotes and comments: a word typed with
// the keyboard on another layout. marzer/tomlplusplus#295, #190. The
// engine (privileged) parses files a user writes, so the text is checked
// first, and the user is told in words what to change. Pure code.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drover::config {

/// A place in the text the TOML library must not read, and why.
struct unsafe_text {
  uint32_t line = 0;   // 1-based
  uint32_t column = 0; // 1-based, in characters (as toml++ counts)
  std::string message;
};

/// The first character outside quotes and comments that is not ASCII, or
/// (inside a multi-line string) the first non-ASCII character after a
/// line-ending backslash; nothing when the text is safe to parse.
std::optional<unsafe_text> find_unsafe_text(std::string_view text);

} // namespace drover::config
