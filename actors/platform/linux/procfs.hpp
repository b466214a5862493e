#pragma once

// Pure parsers for Linux's /proc files (no system calls: unit-tested on
// sample text).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace drover::platform::linux_port {

struct cgroup2_mount {
  std::string mount_point; // where it is mounted, e.g. /sys/fs/cgroup/unified
  std::string root;        // the hierarchy path mounted there, usually "/"
};

/// The first cgroup2 mount in /proc/self/mountinfo text.
std::optional<cgroup2_mount> find_cgroup2(std::string_view mountinfo);

/// The cgroup v2 path of a process from /proc/PID/cgroup text ("0::/x").
std::optional<std::string> unified_cgroup_path(std::string_view cgroup_file);

/// The effective capability mask (CapEff) from /proc/self/status text.
std::optional<uint64_t> effective_capabilities(std::string_view status);

/// Who a process is, from /proc/PID/status text: its parent and its real
/// user ("PPid:", the first of "Uid:").
struct process_ids {
  uint32_t parent = 0;
  uint32_t user = 0;
};
std::optional<process_ids> process_ids_of(std::string_view status);

/// A process's command name and parent from its /proc/PID/stat line
/// ("PID (COMM) STATE PPID ..."): the name may hold spaces and brackets,
/// so it ends at the line's last ')'.
struct stat_fields {
  std::string command;
  uint32_t parent = 0;
  /// When it started, in clock ticks since boot (field 22); 0 when the
  /// line stops before it. A reused process ID starts later.
  uint64_t started = 0;
};
std::optional<stat_fields> parse_stat_line(std::string_view line);

/// Socket inode per local port, from /proc/net/tcp or /proc/net/udp text
/// (local addresses in hex, host byte order on little-endian machines).
/// Only sockets whose local address is `local_ip` (host order) or the
/// wildcard are kept.
std::map<uint16_t, uint64_t> socket_inodes_by_port(std::string_view table,
                                                   uint32_t local_ip);

/// The inode of a "socket:[12345]" descriptor link, or 0.
uint64_t socket_inode_of_link(std::string_view link);

/// What /proc/PID/fdinfo/N says of the file: the mount it is on and its
/// inode ("mnt_id:" and "ino:"; Linux 5.14 on), if it says both.
struct fdinfo_file {
  uint64_t mount_id = 0;
  uint64_t inode = 0;
};
std::optional<fdinfo_file> file_of_fdinfo(std::string_view fdinfo);

/// One queue's line of /proc/net/netfilter/nfnetlink_queue (the network
/// namespace's own): how many packets wait, and how many the kernel
/// dropped because the queue was full or the reader's socket overran.
struct nfqueue_stats {
  uint64_t waiting = 0;
  uint64_t queue_dropped = 0; // the queue was at its maximum length
  uint64_t user_dropped = 0;  // netlink could not hand them to the reader
};
std::optional<nfqueue_stats> nfqueue_stats_of(std::string_view table,
                                              uint16_t queue);

constexpr int cap_net_admin = 12;
constexpr int cap_net_raw = 13;

} // namespace drover::platform::linux_port
