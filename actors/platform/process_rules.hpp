#pragma once

// Which `[[rule]]` a running process falls under, from the process list:
// its names, its executable's path and, for rules with `children`, its
// ancestors (up to 8, as the Linux kernel program looks). Plain C++ over
// process_entry, the same on both systems (config/rule_match.hpp decides).

#include <vector>

#include "actors/platform/process.hpp"
#include "config/settings.hpp"

namespace drover::platform {

/// How far up `children` looks (DROVER_ANCESTORS in the kernel program).
constexpr int rule_ancestors = 8;

class process_rules {
public:
  /// `all`: one listing of the processes (the ancestors are looked up
  /// there).
  process_rules(const std::vector<config::app_rule>& rules,
                const std::vector<process_entry>& all);

  /// The index of the rule `p` falls under, or -1 (no rule: left alone).
  int rule_of(const process_entry& p) const;

  /// What that rule does; `direct` when no rule matches.
  config::rule_action action_of(const process_entry& p) const;

private:
  const std::vector<config::app_rule>& rules_;
  std::vector<const process_entry*> by_pid_; // sorted by pid
  bool any_children_ = false;
};

} // namespace drover::platform
