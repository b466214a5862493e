#include "config/rule_match.hpp"

#include <cctype>

namespace drover::config {

namespace {

char fold(char c, bool ignore_case) {
  if (!ignore_case)
    return c;
  if (c == '\\')
    return '/';
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool same_text(std::string_view a, std::string_view b, bool ignore_case) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (fold(a[i], ignore_case) != fold(b[i], ignore_case))
      return false;
  return true;
}

bool ends_with_exe(std::string_view s) {
  return s.size() > 4 && s.substr(s.size() - 4) == ".exe";
}

bool app_matches(std::string_view pattern, const process_names& p,
                 name_case how) {
  bool windows = how == name_case::windows;
  auto one = [&](std::string_view pat) {
    return (!p.name.empty() && wildcard_match(pat, p.name, windows))
           || (!p.command.empty() && wildcard_match(pat, p.command, windows));
  };
  if (one(pattern))
    return true;
  // Linux: "Discord.exe" in a file shared with Windows also finds "Discord".
  return !windows && ends_with_exe(pattern)
         && one(pattern.substr(0, pattern.size() - 4));
}

// `path` lies below `folder` (at any depth).
bool below(std::string_view folder, std::string_view path, bool windows) {
  while (folder.size() > 1
         && (folder.back() == '/' || (windows && folder.back() == '\\')))
    folder.remove_suffix(1);
  if (path.size() <= folder.size() + 1)
    return false;
  char sep = path[folder.size()];
  bool is_sep = sep == '/' || (windows && sep == '\\');
  return (is_sep || folder == "/")
         && same_text(folder, path.substr(0, folder.size()), windows);
}

} // namespace

name_case native_name_case() {
#ifdef _WIN32
  return name_case::windows;
#else
  return name_case::exact;
#endif
}

bool wildcard_match(std::string_view pattern, std::string_view text,
                    bool ignore_case) {
  // Greedy with one point to come back to: the last '*' and where in the
  // text it stood. Linear in practice, O(n·m) at worst (the kernel's copy
  // of this loop is bounded the same way).
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()
        && (pattern[p] == '?'
            || (pattern[p] != '*'
                && fold(pattern[p], ignore_case)
                       == fold(text[t], ignore_case)))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

bool matches_itself(const app_rule& rule, const process_names& p,
                    name_case how) {
  bool windows = how == name_case::windows;
  for (auto& app : rule.apps)
    if (app_matches(app, p, how))
      return true;
  if (p.path.empty())
    return false;
  for (auto& path : rule.paths)
    if (same_text(path, p.path, windows))
      return true;
  for (auto& folder : rule.folders)
    if (below(folder, p.path, windows))
      return true;
  return false;
}

int first_matching_rule(const std::vector<app_rule>& rules,
                        const process_names& p,
                        const std::vector<process_names>& ancestors,
                        name_case how) {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (matches_itself(rules[i], p, how))
      return static_cast<int>(i);
    if (rules[i].children)
      for (auto& up : ancestors)
        if (matches_itself(rules[i], up, how))
          return static_cast<int>(i);
  }
  return -1;
}

std::string rule_label(const std::vector<app_rule>& rules, int index) {
  if (index < 0 || static_cast<size_t>(index) >= rules.size())
    return {};
  auto& name = rules[static_cast<size_t>(index)].name;
  return name.empty() ? "rule " + std::to_string(index + 1) : name;
}

} // namespace drover::config
