#include "actors/platform/target_set.hpp"

#include <algorithm>
#include <utility>

#include "actors/platform/process_rules.hpp"
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

void target_set::add(uint32_t pid, config::rule_action action,
                     bool direct_when_down, uint8_t proxy) {
  std::lock_guard<std::mutex> guard{mutex_};
  bool proxied = action == config::rule_action::proxy;
  bool changed = direct_when_down && proxied
                     ? sorted_insert(direct_when_down_, pid)
                     : sorted_erase(direct_when_down_, pid);
  auto at = std::lower_bound(proxies_.begin(), proxies_.end(),
                             std::pair<uint32_t, uint8_t>{pid, 0});
  bool listed = at != proxies_.end() && at->first == pid;
  if (proxied && proxy != 0) {
    if (!listed) {
      proxies_.insert(at, {pid, proxy});
      changed = true;
    } else if (at->second != proxy) {
      at->second = proxy;
      changed = true;
    }
  } else if (listed) {
    proxies_.erase(at);
    changed = true;
  }
  if (action == config::rule_action::direct) {
    changed = sorted_erase(pids_, pid) || changed;
    changed = sorted_erase(blocked_, pid) || changed;
  } else {
    changed = sorted_insert(pids_, pid) || changed;
    changed
        = (proxied ? sorted_erase(blocked_, pid) : sorted_insert(blocked_, pid))
          || changed;
  }
  if (changed)
    generation_++;
}

void target_set::remove(uint32_t pid) {
  add(pid, config::rule_action::direct);
}

void target_set::add_run_root(uint32_t pid, uint64_t created, uint8_t proxy) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    // Roots that ended stay harmless (a reused ID has another creation
    // time); the oldest go past a bound.
    constexpr size_t most_roots = 256;
    if (run_roots_.size() >= most_roots)
      run_roots_.erase(run_roots_.begin());
    run_roots_.push_back({pid, created, proxy});
  }
  add(pid, config::rule_action::proxy, false, proxy);
}

bool target_set::contains(uint32_t pid) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::binary_search(pids_.begin(), pids_.end(), pid);
}

bool target_set::blocked(uint32_t pid) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::binary_search(blocked_.begin(), blocked_.end(), pid);
}

void target_set::set_rules(std::vector<config::app_rule> rules,
                           config::not_proxying fallback,
                           std::vector<std::string> proxy_names) {
  std::lock_guard<std::mutex> guard{mutex_};
  rules_ = std::move(rules);
  defaults_.when_not_proxying = fallback;
  proxy_names_ = std::move(proxy_names);
}

target_set::verdict
target_set::decide(const process_entry& p,
                   const std::vector<process_entry>& ancestors) const {
  std::vector<config::process_names> up;
  for (auto& a : ancestors)
    up.push_back(names_of(a));
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& a : ancestors)
    for (auto& root : run_roots_)
      if (a.pid == root.pid
          && (a.created == 0 || root.created == 0 || a.created == root.created))
        return {config::rule_action::proxy, false, root.proxy};
  int i = config::first_matching_rule(rules_, names_of(p), up,
                                      config::name_case::windows);
  if (i < 0)
    return {};
  auto& rule = rules_[static_cast<size_t>(i)];
  bool proxied = rule.action == config::rule_action::proxy;
  return {rule.action,
          proxied
              && config::fallback_of(rule, defaults_)
                     == config::not_proxying::direct,
          static_cast<uint8_t>(proxied ? config::proxy_index(proxy_names_, rule)
                                       : 0)};
}

target_set::verdict target_set::judge(uint32_t pid,
                                      const process_identity& id) const {
  process_entry p;
  p.pid = pid;
  p.name = id.image;
  p.path = id.path;
  return decide(p, any_children() ? ancestors_of(pid, rule_ancestors)
                                  : std::vector<process_entry>{});
}

bool target_set::any_children() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return !run_roots_.empty()
         || std::any_of(rules_.begin(), rules_.end(),
                        [](const config::app_rule& r) { return r.children; });
}

void target_set::refresh(std::vector<uint32_t>& copy,
                         std::vector<uint32_t>& blocked,
                         std::vector<uint32_t>& direct_when_down,
                         std::vector<std::pair<uint32_t, uint8_t>>& proxies,
                         uint64_t& seen) const {
  if (generation_.load() == seen)
    return;
  std::lock_guard<std::mutex> guard{mutex_};
  copy = pids_;
  blocked = blocked_;
  direct_when_down = direct_when_down_;
  proxies = proxies_;
  seen = generation_.load();
}

bool target_view::captured(uint32_t pid) {
  if (set_ != nullptr)
    set_->refresh(pids_, blocked_, direct_when_down_, proxies_, seen_);
  return std::binary_search(pids_.begin(), pids_.end(), pid);
}

bool target_view::blocked(uint32_t pid) const {
  return std::binary_search(blocked_.begin(), blocked_.end(), pid);
}

uint8_t target_view::proxy(uint32_t pid) const {
  auto at = std::lower_bound(proxies_.begin(), proxies_.end(),
                             std::pair<uint32_t, uint8_t>{pid, 0});
  return at != proxies_.end() && at->first == pid ? at->second : uint8_t{0};
}

bool target_view::direct_when_down(uint32_t pid) const {
  return std::binary_search(direct_when_down_.begin(), direct_when_down_.end(),
                            pid);
}

void target_set::note_program(const std::string& path) {
  if (path.empty())
    return;
  auto key = path;
  for (auto& c : key)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  std::lock_guard<std::mutex> guard{mutex_};
  auto at = std::lower_bound(programs_seen_.begin(), programs_seen_.end(), key);
  if ((at != programs_seen_.end() && *at == key)
      || programs_seen_.size() >= programs_cap)
    return;
  programs_seen_.insert(at, std::move(key));
  programs_new_.push_back(path);
  program_noted_.notify_one(); // once per program: not a packet's cost
}

bool target_set::wait_for_new_programs(std::chrono::milliseconds at_most,
                                       std::vector<std::string>& fresh) {
  std::unique_lock<std::mutex> lock{mutex_};
  program_noted_.wait_for(
      lock, at_most, [&] { return stop_waiting_ || !programs_new_.empty(); });
  fresh = std::exchange(programs_new_, {});
  return !stop_waiting_;
}

void target_set::stop_waiting() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_waiting_ = true;
  }
  program_noted_.notify_all();
}

} // namespace drover::platform
