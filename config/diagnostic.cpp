#include "config/diagnostic.hpp"

namespace drover::config {

std::string diagnostic::to_string() const {
  std::string out = level == severity::warning ? "warning: " : "";
  out += message;
  if (!file.empty() || line != 0) {
    out += " at " + file;
    if (line != 0)
      out += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  return out;
}

std::string to_string(const std::vector<diagnostic>& ds) {
  std::string out;
  for (auto& d : ds) {
    out += d.to_string();
    out += '\n';
  }
  return out;
}

} // namespace drover::config
