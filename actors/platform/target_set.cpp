#include "actors/platform/target_set.hpp"

#include <algorithm>

#include "config/rule_match.hpp"

namespace drover::platform {

namespace {

bool sorted_insert(std::vector<uint32_t>& v, uint32_t x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it != v.end() && *it == x)
    return false;
  v.insert(it, x);
  return true;
}

bool sorted_erase(std::vector<uint32_t>& v, uint32_t x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it == v.end() || *it != x)
    return false;
  v.erase(it);
  return true;
}

config::process_names names_of(const process_entry& p) {
  return {p.name, p.command, p.path};
}

} // namespace

void target_set::add(uint32_t pid, config::rule_action action) {
  std::lock_guard<std::mutex> guard{mutex_};
  bool changed = false;
  if (action == config::rule_action::direct) {
    changed = sorted_erase(pids_, pid);
    changed = sorted_erase(blocked_, pid) || changed;
  } else {
    changed = sorted_insert(pids_, pid);
    changed
        = (action == config::rule_action::block ? sorted_insert(blocked_, pid)
                                                : sorted_erase(blocked_, pid))
          || changed;
  }
  if (changed)
    generation_++;
}

void target_set::remove(uint32_t pid) {
  add(pid, config::rule_action::direct);
}

bool target_set::contains(uint32_t pid) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::binary_search(pids_.begin(), pids_.end(), pid);
}

bool target_set::blocked(uint32_t pid) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::binary_search(blocked_.begin(), blocked_.end(), pid);
}

void target_set::set_rules(std::vector<config::app_rule> rules) {
  std::lock_guard<std::mutex> guard{mutex_};
  rules_ = std::move(rules);
}

config::rule_action
target_set::decide(const process_entry& p,
                   const std::vector<process_entry>& ancestors) const {
  std::vector<config::process_names> up;
  for (auto& a : ancestors)
    up.push_back(names_of(a));
  std::lock_guard<std::mutex> guard{mutex_};
  int i = config::first_matching_rule(rules_, names_of(p), up,
                                      config::name_case::windows);
  return i < 0 ? config::rule_action::direct
               : rules_[static_cast<size_t>(i)].action;
}

bool target_set::any_children() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::any_of(rules_.begin(), rules_.end(),
                     [](const config::app_rule& r) { return r.children; });
}

void target_set::refresh(std::vector<uint32_t>& copy,
                         std::vector<uint32_t>& blocked, uint64_t& seen) const {
  if (generation_.load() == seen)
    return;
  std::lock_guard<std::mutex> guard{mutex_};
  copy = pids_;
  blocked = blocked_;
  seen = generation_.load();
}

} // namespace drover::platform
