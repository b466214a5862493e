#include "app/tray/rules_text.hpp"

#include <sstream>
#include <vector>

namespace drover::tray {

namespace {

std::string trimmed(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos)
    return {};
  auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// The separator a folder's text ends with: the one the path already uses.
char separator_of(const std::string& path) {
  return path.find('\\') != std::string::npos ? '\\' : '/';
}

} // namespace

std::string programs_text(const config::app_rule& rule) {
  std::string out;
  auto line = [&](const std::string& s) {
    out += (out.empty() ? "" : "\n") + s;
  };
  for (auto& a : rule.apps)
    line(a);
  for (auto& p : rule.paths)
    line(p);
  for (auto& f : rule.folders) {
    bool ends = !f.empty() && (f.back() == '/' || f.back() == '\\');
    line(ends ? f : f + separator_of(f));
  }
  return out;
}

void read_programs(const std::string& text, config::app_rule& rule) {
  rule.apps.clear();
  rule.paths.clear();
  rule.folders.clear();
  std::istringstream in{text};
  for (std::string raw; std::getline(in, raw);) {
    auto s = trimmed(raw);
    if (s.empty())
      continue;
    if (s.find_first_of("/\\") == std::string::npos)
      rule.apps.push_back(s);
    else if (s.back() == '/' || s.back() == '\\')
      rule.folders.push_back(s);
    else
      rule.paths.push_back(s);
  }
}

std::string action_text(config::rule_action action) {
  switch (action) {
    case config::rule_action::proxy:
      return "through the proxy";
    case config::rule_action::direct:
      return "direct";
    case config::rule_action::block:
      return "blocked";
  }
  return "through the proxy";
}

std::string rule_summary(const config::app_rule& rule, int index) {
  auto name
      = rule.name.empty() ? "rule " + std::to_string(index + 1) : rule.name;
  return name + " — " + action_text(rule.action)
         + (rule.action == config::rule_action::proxy && !rule.proxy.empty()
                ? " " + rule.proxy
                : "")
         + (rule.children ? " (and what it starts)" : "");
}

} // namespace drover::tray
