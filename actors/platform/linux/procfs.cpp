#include "actors/platform/linux/procfs.hpp"

#include <sstream>

namespace drover::platform::linux_port {

namespace {

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}

// mountinfo writes a space as \040 (and tab, newline, backslash likewise).
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1])
        && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8
                               + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

} // namespace

std::optional<cgroup2_mount> find_cgroup2(std::string_view mountinfo) {
  std::istringstream in{std::string{mountinfo}};
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mount-point options [optional...] - type ...
    auto dash = line.find(" - ");
    if (dash == std::string::npos)
      continue;
    std::istringstream tail{line.substr(dash + 3)};
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2")
      continue;
    std::istringstream head{line.substr(0, dash)};
    std::string id, parent, dev, root, mount_point;
    if (!(head >> id >> parent >> dev >> root >> mount_point))
      continue;
    return cgroup2_mount{unescape(mount_point), unescape(root)};
  }
  return std::nullopt;
}

std::optional<std::string> unified_cgroup_path(std::string_view cgroup_file) {
  std::istringstream in{std::string{cgroup_file}};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0)
      return line.substr(3);
  return std::nullopt;
}

std::optional<uint64_t> effective_capabilities(std::string_view status) {
  std::istringstream in{std::string{status}};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) != 0)
      continue;
    try {
      return std::stoull(line.substr(7), nullptr, 16);
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

} // namespace drover::platform::linux_port
