#pragma once

// Which `[[rule]]` a process falls under: the first whose `apps`, `paths`
// or `folders` match it, or (a rule with `children`) one of its ancestors.
// Pure: the OS side gives what it knows of the process; Windows compares
// without case and with either slash, Linux exactly. The Linux kernel
// program makes the same decision at socket creation; this one serves the
// places that see a process afterwards (procscan, the Flows view) and the
// Windows capture.

#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"

namespace drover::config {

/// How names and paths compare.
enum class name_case {
  exact,   // Linux: byte for byte; "X.exe" also finds "X"
  windows, // no case (ASCII), '/' and '\\' the same
};

/// The system this build runs on compares like this.
name_case native_name_case();

/// What is known of a process. Empty fields are unknown and match nothing.
struct process_names {
  std::string name;    // the executable's file name
  std::string command; // Linux: the name it was started by (comm)
  std::string path;    // the executable's full path (symlinks resolved)
};

/// `pattern` with `*` (any run) and `?` (any one character) matches all
/// of `text`.
bool wildcard_match(std::string_view pattern, std::string_view text,
                    bool ignore_case);

/// The rule's own `apps`, `paths` or `folders` match `p` (its ancestors
/// aside).
bool matches_itself(const app_rule& rule, const process_names& p,
                    name_case how);

/// The index of the first rule that matches `p`, itself or, for a rule with
/// `children`, through one of `ancestors` (its parent first); -1 when none.
int first_matching_rule(const std::vector<app_rule>& rules,
                        const process_names& p,
                        const std::vector<process_names>& ancestors,
                        name_case how);

/// "Discord", or "rule 3" for a rule without a name (1-based).
std::string rule_label(const std::vector<app_rule>& rules, int index);

} // namespace drover::config
