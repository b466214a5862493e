#pragma once

// Linux system plumbing for the engine: privileges, the target cgroup, the
// rule set, child processes. Only the Linux port and procscan use it.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

/// Empty when CAP_NET_ADMIN and CAP_NET_RAW are effective; otherwise which
/// is missing and how to grant it, for the user.
std::string missing_privileges();

/// This process's network namespace inode ("4026531992"): names the
/// per-namespace cgroup and control socket, so instances in different
/// namespaces never collide.
std::string netns_id();

/// /run/drover for root (created 0755: the control socket inside decides
/// who may connect), else $XDG_RUNTIME_DIR/drover (created 0700).
std::filesystem::path runtime_dir();

/// Where a root engine keeps its control socket, seen from any user.
inline constexpr const char* system_runtime_dir = "/run/drover";

struct program_result {
  int status = -1; // exit status, -1 if it could not run
  std::string output;
};

/// Runs argv[0] (looked up in PATH) with `input` on stdin and returns its
/// exit status and combined output.
program_result run_program(const std::vector<std::string>& argv,
                           std::string_view input = {});

/// The cgroup v2 group whose processes are captured. Found through
/// /proc/self/mountinfo; where no cgroup2 is visible (inside
/// `ip netns exec`, containers) a private one is mounted in the runtime dir.
class target_cgroup {
public:
  /// Creates (or adopts, after a crash) the group `name`.
  static std::unique_ptr<target_cgroup> open(const std::string& name,
                                             std::string& error);
  ~target_cgroup();
  target_cgroup(const target_cgroup&) = delete;
  target_cgroup& operator=(const target_cgroup&) = delete;

  /// The group's path as iptables' `-m cgroup --path` wants it.
  const std::string& rule_path() const { return rule_path_; }

  /// Moves a process in (its future sockets are captured), remembering
  /// where it was.
  bool add(pid_t pid, std::string& error);

  bool contains(pid_t pid) const;

  /// Moves every member back where it came from (unknown ones to the
  /// hierarchy root), removes the group, unmounts a private mount.
  void release();

private:
  target_cgroup() = default;
  std::filesystem::path dir_;
  std::filesystem::path mount_;
  std::string rule_path_;
  bool private_mount_ = false;
  bool released_ = false;
  std::vector<std::pair<pid_t, std::string>> origins_;
};

/// Installs the rule set with iptables-restore / ip6tables-restore, after
/// removing a stale one left by a crashed run. Removes it on destruction.
class installed_rules {
public:
  static std::unique_ptr<installed_rules>
  install(const net::capture::linux_params& p, std::string& error);
  /// Removes a rule set named `chain` if one is there (stale cleanup).
  static void remove_if_present(const std::string& chain);
  ~installed_rules();
  installed_rules(const installed_rules&) = delete;
  installed_rules& operator=(const installed_rules&) = delete;

private:
  explicit installed_rules(std::string chain) : chain_(std::move(chain)) {}
  std::string chain_;
};

/// Starts argv in the target cgroup: the child is moved in before it execs,
/// so every socket it ever opens is captured. Returns its pid, or -1.
pid_t spawn_in_cgroup(const std::vector<std::string>& argv,
                      target_cgroup& group, std::string& error);

/// Waits for a child and returns its exit code (128 + signal if killed).
int wait_exit_code(pid_t pid);

} // namespace drover::platform::linux_port
