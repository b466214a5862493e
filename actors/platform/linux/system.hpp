#pragma once

// Linux system plumbing for the engine: privileges, the target cgroup, the
// rule set, served users, child processes. Only the Linux port uses it.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/platform/linux/procfs.hpp"
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
/// namespaces never collide. With `pid`, that process's ("0" when it
/// cannot be read).
std::string netns_id(uint32_t pid = 0);

/// /run/drover for root (created 0755: the control socket inside decides
/// who may connect), else $XDG_RUNTIME_DIR/drover (created 0700).
std::filesystem::path runtime_dir();

/// Removes the folders `cgroup2-<namespace>` in `dir` whose network
/// namespace no longer exists: an engine under `ip netns exec` mounts its
/// own view of cgroup2 there and removes it at the end, but one that was
/// killed leaves the folder (empty: its mount went with its namespace).
/// Returns how many went.
int sweep_dead_cgroup_mounts(const std::filesystem::path& dir);

/// A process's /proc/PID/stat line, read and parsed (procfs.hpp's
/// parse_stat_line): `path` is "PID/stat" under `proc_fd`, an open /proc
/// (a scan over every process opens nothing else), or "/proc/PID/stat"
/// with AT_FDCWD. Empty when the process is gone or the line is not one.
std::optional<stat_fields> read_stat(int proc_fd, const char* path);

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

  /// The group of `drover run --proxy`'s programs for proxy `proxy` (1..7:
  /// a child group, "proxy-N"; 0 is the group itself), made if it is not
  /// there yet: its cgroup ID, which the kernel program must know before a
  /// process enters, or 0 with `error`.
  uint64_t make_proxy_group(uint32_t proxy, std::string& error);
  /// The proxy groups there are (a killed engine's stay): ID and proxy.
  std::vector<std::pair<uint64_t, uint32_t>> proxy_groups() const;

  /// Moves a process into proxy `proxy`'s group (its future sockets are
  /// captured, through that proxy), remembering where it was. A member
  /// of another proxy's group moves over.
  bool add(pid_t pid, uint32_t proxy, std::string& error);

  bool contains(pid_t pid) const { return proxy_of(pid) >= 0; }
  /// The proxy whose group `pid` is in, or -1 when it is in none.
  int proxy_of(pid_t pid) const;

  /// Moves every member back where it came from (unknown ones to the
  /// hierarchy root), removes the group, unmounts a private mount.
  void release();

private:
  target_cgroup() = default;
  std::filesystem::path dir_of(uint32_t proxy) const;
  std::filesystem::path dir_;
  std::filesystem::path mount_;
  std::string rule_path_;
  bool private_mount_ = false;
  bool released_ = false;
  std::vector<std::pair<pid_t, std::string>> origins_;
};

/// Whether the kernel routes a datagram with `mark` to anywhere as local
/// by `table` (the policy rule and route TPROXY needs are in place), as
/// `ip route get 192.0.2.1 mark M` would say. True when it cannot ask.
bool marked_route_is_local(uint32_t mark, uint32_t table);

/// A netlink socket of `protocol` (non-blocking) that hears `groups`, or
/// -1.
int netlink_subscribe(int protocol, std::initializer_list<unsigned> groups);
/// Reads what `fd` heard since the last call, without blocking: true if
/// anything came, or was lost to a full socket buffer.
bool netlink_heard(int fd);

/// Hears the kernel announce changes to the firewall (nftables' netlink
/// group: what iptables-nft and nft change) and to the IPv4 policy rules
/// and routes, so the watchdog reads the whole ruleset only when something
/// changed instead of every second. Not live where the kernel will not say
/// (no nftables, iptables-legacy, no netlink): then every check reads.
class ruleset_changes {
public:
  ruleset_changes();
  ~ruleset_changes();
  ruleset_changes(const ruleset_changes&) = delete;
  ruleset_changes& operator=(const ruleset_changes&) = delete;

  /// Both subscriptions hold and iptables is the nftables variant.
  bool live() const { return live_; }
  /// Reads what arrived since the last call: true if anything changed, or
  /// might have (announcements lost to a full socket buffer), or the
  /// monitor is not live. Never blocks.
  bool changed();

private:
  int netfilter_ = -1;
  int routes_ = -1;
  bool live_ = false;
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
  /// Every table and the policy route still hold what apply() put in. Read
  /// in full when the kernel announced a change since the last call, and
  /// every 10 s regardless; else true without reading.
  bool intact();
  /// Applies the last rules again (after someone flushed them).
  bool reapply(std::string& error);
  /// Empty, or why a table's rules could not be removed.
  std::string remove();
  /// Whether any table holds this rule set's chains (a killed engine's).
  bool left_in_place() const;
  /// The policy route for UDP with `p`'s mark and table, whoever added it
  /// (a killed engine); whether there was one.
  static bool remove_route_left(const net::capture::linux_params& p);

private:
  bool mangle_intact(const net::capture::linux_params& p,
                     std::string_view saved) const;
  bool read_intact() const;
  std::string chain_;
  std::optional<net::capture::linux_params> applied_;
  // Opened by the first intact() (the watchdog's), not for every rule_set.
  std::optional<ruleset_changes> changes_;
  std::chrono::steady_clock::time_point last_read_{};
};

/// The user who started this process through sudo or pkexec (SUDO_UID,
/// PKEXEC_UID), with the variable's name; nothing for root itself.
std::optional<std::pair<uid_t, const char*>> invoking_user();

/// Whose programs may be targets by name: the user who started the
/// engine through sudo or pkexec; else the members of the group "drover"
/// (a system service); else this process's own user. `who` says which,
/// for the log.
std::vector<uint32_t> served_users(std::string& who);

/// Whether `pid` may be put in place as a target at the request of
/// `caller` (the kernel's word on who asks, SO_PEERCRED) of user `user`:
/// it must be the caller or its child, of the caller's real user, in this
/// process's network namespace (elsewhere Drover's rules do not apply and
/// its traffic would go around them). Empty when it may, else why not,
/// for the caller.
std::string why_not_joinable(uint32_t pid, uint32_t caller, uint32_t user);

/// Becomes `argv` (PATH searched), keeping this process's ID, cgroup and
/// standard streams; as root through sudo or pkexec, as the user who asked.
/// Returns only when it could not, with `error` set.
void exec_in_place(const std::vector<std::string>& argv, std::string& error);

/// Starts argv in the target cgroup: the child is moved in before it execs,
/// so every socket it ever opens is captured. It runs as the user the engine
/// was started for (sudo, pkexec: that user's ID, groups and HOME/USER/
/// SHELL), never as root for them, and inherits descriptors 0-2 only.
/// `proxy`: whose group (target_cgroup::add). Returns its pid, or -1.
pid_t spawn_in_cgroup(const std::vector<std::string>& argv,
                      target_cgroup& group, uint32_t proxy, std::string& error);

/// Waits for a child and returns its exit code (128 + signal if killed).
int wait_exit_code(pid_t pid);

} // namespace drover::platform::linux_port
