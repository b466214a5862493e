#pragma once

// What the config tests read a text with: the settings of a text that must
// be valid, the errors of one that must not be.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/parse.hpp"

namespace drover::config::testing {

inline settings parse_ok(const std::string& text) {
  auto r = parse(text, "config.toml");
  EXPECT_TRUE(r.ok()) << to_string(r.errors);
  return r.value.value_or(settings{});
}

inline std::vector<diagnostic> errors_of(const std::string& text) {
  auto r = parse(text, "config.toml");
  EXPECT_FALSE(r.ok());
  return r.errors;
}

} // namespace drover::config::testing
