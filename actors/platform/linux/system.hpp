#pragma once

// Linux system plumbing for the engine: privileges, the target cgroup, the
// rule set, served users, child processes. Only the Linux port uses it.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

/// The SO_MARK of the datagrams Drover fabricates (replies to the targets):
/// the capture rules leave them untracked and uncaptured.
constexpr uint32_t injected_mark = 0x44520001; // "DR"

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

  /// The group's path below the hierarchy's root ("drover-4026531992").
  const std::string& rule_path() const { return rule_path_; }
  /// Where the cgroup2 hierarchy is mounted (the kernel programs attach
  /// to its root).
  const std::filesystem::path& mount_point() const { return mount_; }
  /// The group's cgroup ID and depth, as the kernel programs see them.
  uint64_t id() const;
  uint32_t level() const;

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

/// The capture's rule set: raw OUTPUT (IPv4 and IPv6), nat OUTPUT for the
/// TCP redirect, mangle and a policy route for UDP's TPROXY. Each apply()
/// installs or replaces it in one iptables-restore transaction per table,
/// so whatever was there (a previous session's rules, a killed engine's)
/// holds until the new rules do. Never removed by a destructor: only
/// remove() (a Stop) takes it away.
class rule_set {
public:
  explicit rule_set(std::string chain) : chain_(std::move(chain)) {}

  bool apply(const net::capture::linux_params& p, std::string& error);
  /// Both tables still hold what apply() put in.
  bool intact() const;
  /// Applies the last rules again (after someone flushed them).
  bool reapply(std::string& error);
  void remove();

private:
  bool mangle_intact(const net::capture::linux_params& p,
                     std::string_view saved) const;
  std::string chain_;
  std::optional<net::capture::linux_params> applied_;
};

/// The user who started this process through sudo or pkexec (SUDO_UID,
/// PKEXEC_UID), with the variable's name; nothing for root itself.
std::optional<std::pair<uid_t, const char*>> invoking_user();

/// Whose programs may be targets by name: the user who started the
/// engine through sudo or pkexec; else the members of the group "drover"
/// (a system service); else this process's own user. `who` says which,
/// for the log.
std::vector<uint32_t> served_users(std::string& who);

/// Starts argv in the target cgroup: the child is moved in before it execs,
/// so every socket it ever opens is captured. It runs as the user the engine
/// was started for (sudo, pkexec: that user's ID, groups and HOME/USER/
/// SHELL), never as root for them, and inherits descriptors 0-2 only.
/// Returns its pid, or -1.
pid_t spawn_in_cgroup(const std::vector<std::string>& argv,
                      target_cgroup& group, std::string& error);

/// Waits for a child and returns its exit code (128 + signal if killed).
int wait_exit_code(pid_t pid);

} // namespace drover::platform::linux_port
