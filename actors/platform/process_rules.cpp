#include "actors/platform/process_rules.hpp"

#include <algorithm>

#include "config/rule_match.hpp"

namespace drover::platform {

namespace {

config::process_names names_of(const process_entry& p) {
  return {p.name, p.command, p.path};
}

} // namespace

process_rules::process_rules(const std::vector<config::app_rule>& rules,
                             const std::vector<process_entry>& all)
    : rules_(rules) {
  any_children_
      = std::any_of(rules.begin(), rules.end(),
                    [](const config::app_rule& r) { return r.children; });
  if (!any_children_)
    return;
  by_pid_.reserve(all.size());
  for (auto& p : all)
    by_pid_.push_back(&p);
  std::sort(by_pid_.begin(), by_pid_.end(),
            [](const process_entry* a, const process_entry* b) {
              return a->pid < b->pid;
            });
}

int process_rules::rule_of(const process_entry& p) const {
  std::vector<config::process_names> ancestors;
  if (any_children_) {
    uint32_t up = p.parent_pid;
    for (int i = 0; i < rule_ancestors && up > 1; ++i) {
      auto it = std::lower_bound(
          by_pid_.begin(), by_pid_.end(), up,
          [](const process_entry* e, uint32_t pid) { return e->pid < pid; });
      if (it == by_pid_.end() || (*it)->pid != up)
        break;
      ancestors.push_back(names_of(**it));
      up = (*it)->parent_pid;
    }
  }
  return config::first_matching_rule(rules_, names_of(p), ancestors,
                                     config::native_name_case());
}

config::rule_action process_rules::action_of(const process_entry& p) const {
  int i = rule_of(p);
  return i < 0 ? config::rule_action::direct
               : rules_[static_cast<size_t>(i)].action;
}

} // namespace drover::platform
