#pragma once

// Which processes are targets, as the Windows capture keeps it: shared by
// the capture session (procscan adds and forgets processes) and WinDivert's
// receive thread (which reads a copy only when it changed, and adds a
// process itself the moment it opens its first socket, by the rules:
// its executable, its path, its ancestors). A process a `block` rule
// matches is kept too, apart: its packets are captured to be refused.
// Programs started with `drover run` are run roots: they and every process
// they start (whatever the rules say of its name) go through the root's
// proxy, as a cgroup keeps them on Linux.
// Plain C++ (a mutex, a generation counter), so it is unit-tested on any
// system.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "actors/platform/process.hpp"
#include "config/settings.hpp"

namespace drover::platform {

class target_set {
public:
  /// What the rules say of a process: its action and, for a target,
  /// whether its rule's fallback is direct.
  struct verdict {
    config::rule_action action = config::rule_action::direct;
    bool direct_when_down = false;
    uint8_t proxy = 0; // a target's: its rule's proxy (its place)
  };

  /// `pid` is a target (`proxy`), or blocked (`block`); `direct` forgets
  /// it.
  void add(uint32_t pid,
           config::rule_action action = config::rule_action::proxy,
           bool direct_when_down = false, uint8_t proxy = 0);
  void remove(uint32_t pid);
  /// `drover run`'s program `pid` (made at `created`): a target through
  /// `proxy` (no rule's fallback applies), and so is every process it
  /// starts.
  void add_run_root(uint32_t pid, uint64_t created, uint8_t proxy);
  /// A target or a blocked process: its packets are captured.
  bool contains(uint32_t pid) const;
  bool blocked(uint32_t pid) const;
  /// The rules, and what a `proxy` rule without its own fallback does
  /// while the proxy cannot be used.
  /// `proxy_names`: the proxies' names in order, which a rule's `proxy`
  /// chooses from (the first when it names none).
  void set_rules(std::vector<config::app_rule> rules,
                 config::not_proxying fallback = config::not_proxying::block,
                 std::vector<std::string> proxy_names = {});
  /// What the rules do with `p` (`ancestors`: its parent first), Windows'
  /// way: names and paths without regard to case (ASCII letters). A
  /// descendant of a run root is that root's, before any rule.
  verdict decide(const process_entry& p,
                 const std::vector<process_entry>& ancestors) const;
  /// Some rule has `children`, or a run root is known (then a new
  /// process's ancestors matter).
  bool any_children() const;
  /// What the rules say of running process `pid` as the OS describes it
  /// (its ancestors looked up when a rule has `children`).
  verdict judge(uint32_t pid, const process_identity& id) const;
  uint64_t generation() const { return generation_.load(); }
  /// Copies the captured processes (sorted), the blocked ones among them
  /// and the targets whose fallback is direct, when the set changed since
  /// `seen`.
  void refresh(std::vector<uint32_t>& copy, std::vector<uint32_t>& blocked,
               std::vector<uint32_t>& direct_when_down,
               std::vector<std::pair<uint32_t, uint8_t>>& proxies,
               uint64_t& seen) const;

  /// A captured process runs the executable at `path`: the guard keeps
  /// that program offline should the engine be killed (crash_block.hpp).
  /// Each path is handed on once (case aside), up to `programs_cap`.
  void note_program(const std::string& path);
  /// The paths noted since the last call into `fresh`, waiting up to
  /// `at_most` for one to be noted (the guard's blocker thread: a program
  /// is blocked within moments of its capture); false at once after
  /// stop_waiting().
  bool wait_for_new_programs(std::chrono::milliseconds at_most,
                             std::vector<std::string>& fresh);
  void stop_waiting();
  static constexpr size_t programs_cap = 1024;

private:
  mutable std::mutex mutex_;
  std::vector<uint32_t> pids_;             // sorted: targets and blocked
  std::vector<uint32_t> blocked_;          // sorted
  std::vector<uint32_t> direct_when_down_; // sorted
  /// Targets through another proxy than the first, and its place (sorted).
  std::vector<std::pair<uint32_t, uint8_t>> proxies_;
  std::vector<config::app_rule> rules_;
  struct run_root {
    uint32_t pid = 0;
    uint64_t created = 0;
    uint8_t proxy = 0;
  };
  std::vector<run_root> run_roots_; // oldest first, bounded
  std::vector<std::string> proxy_names_;
  config::target_settings defaults_;       // when_not_proxying
  std::vector<std::string> programs_seen_; // sorted, lower case
  std::vector<std::string> programs_new_;
  std::condition_variable program_noted_;
  bool stop_waiting_ = false;
  std::atomic<uint64_t> generation_{0};
};

/// One thread's copy of a target set, taken again only when the set
/// changed: WinDivert's receive thread asks it for every packet without
/// taking the set's lock.
class target_view {
public:
  void watch(const target_set* set) { set_ = set; }
  /// A target or a blocked process: its packets are captured (refreshes
  /// the copy when the set changed).
  bool captured(uint32_t pid);
  bool blocked(uint32_t pid) const;
  bool direct_when_down(uint32_t pid) const;
  /// Its rule's proxy (its place; 0: the first).
  uint8_t proxy(uint32_t pid) const;

private:
  const target_set* set_ = nullptr;
  std::vector<std::pair<uint32_t, uint8_t>> proxies_;
  std::vector<uint32_t> pids_;
  std::vector<uint32_t> blocked_;
  std::vector<uint32_t> direct_when_down_;
  uint64_t seen_ = ~uint64_t{0};
};

} // namespace drover::platform
