#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace drover::config {

/// One problem found in a config file, with where it is. Rendered for users
/// as "`proxy.port` must be 1..65535, got 70000 at config.toml:5:8".
struct diagnostic {
  enum class severity { error, warning };
  severity level = severity::error;
  std::string key;     // dotted key ("proxy.port"), empty for syntax errors
  std::string message; // what is wrong, without the location
  std::string file;
  uint32_t line = 0; // 1-based; 0 when unknown
  uint32_t column = 0;

  std::string to_string() const;
};

std::string to_string(const std::vector<diagnostic>& ds);

} // namespace drover::config
