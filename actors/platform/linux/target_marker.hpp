#pragma once

// The kernel side of Linux capture (bpf/target_marker.bpf.c): marks every
// socket a target creates, at creation, and fences marked sockets in, so
// nothing of a target leaves except through the capture. The programs stay
// attached when the engine dies; the next engine in the same network
// namespace replaces them.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/platform/linux/netns_identity.hpp"
#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

struct marker_settings {
  std::string cgroup_root;          // the cgroup2 mount to attach at
  uint64_t engine_cgroup_id = 0;    // `drover run`'s group: all its members
  uint32_t engine_cgroup_level = 0; // its depth below the hierarchy's root
};

/// A file or folder as the kernel program knows it: its file system's
/// device number (the kernel's, as /proc/self/mountinfo shows it) and its
/// inode.
struct file_identity {
  uint64_t device = 0;
  uint64_t inode = 0;
  bool operator==(const file_identity& o) const {
    return device == o.device && inode == o.inode;
  }
};

/// The config's rules as the kernel program applies them: each entry says
/// which rules (bit i: rule i) it belongs to.
struct kernel_rules {
  std::vector<std::pair<std::string, uint32_t>> names;     // exact, < 64 bytes
  std::vector<std::pair<std::string, uint32_t>> wildcards; // at most 32
  std::vector<std::pair<file_identity, uint32_t>> files;   // `paths`
  std::vector<std::pair<file_identity, uint32_t>> folders; // `folders`
  uint32_t children = 0;         // rules with `children`
  uint32_t proxy = 0;            // rules whose action is `proxy`
  uint32_t block = 0;            // ... `block` (the others are `direct`)
  uint32_t direct_when_down = 0; // `proxy` rules whose fallback is direct
  /// Each `proxy` rule's proxy (0..7) as bit planes: bit r of
  /// proxy_bits[b] is bit b of rule r's proxy index.
  uint32_t proxy_bits[3] = {0, 0, 0};
  bool operator==(const kernel_rules& o) const;
};

struct marker_counters {
  uint64_t sockets_marked = 0;
  uint64_t packets_fenced = 0; // a target's packets stopped by the fence
  uint64_t ipv6_refused = 0;   // targets' and blocked programs' IPv6 refused
};

class target_marker {
public:
  /// Loads and attaches the programs; then detaches what an engine of this
  /// namespace left behind, and programs of namespaces that are gone.
  static std::unique_ptr<target_marker> attach(const marker_settings& s,
                                               std::string& error);
  ~target_marker(); // detaches: a Stop
  target_marker(const target_marker&) = delete;
  target_marker& operator=(const target_marker&) = delete;

  capture_marks marks() const { return marks_; }

  /// Replaces the rules in one step: a socket is judged by the old set or
  /// the new one, never by a mix.
  bool set_rules(const kernel_rules& rules, std::string& error);
  /// Whether the proxy can be used now (for TCP, for UDP): while it
  /// cannot, the new sockets of rules whose fallback is direct are not
  /// marked.
  bool set_proxying(uint32_t proxy, bool tcp, bool udp, std::string& error);
  /// Replaces the users whose processes may be targets by name.
  bool set_users(const std::vector<uint32_t>& uids, std::string& error);
  /// Members of the cgroup `cgroup_id` (below `drover run`'s group) are
  /// targets through proxy `proxy` (0..7).
  bool set_run_group(uint64_t cgroup_id, uint32_t proxy, std::string& error);
  /// Replaces the destinations a target may reach directly: the same as
  /// the rule set leaves alone (the proxy, [skip] ranges, ..., and the
  /// subnets' broadcast addresses, which the rules know from the kernel).
  bool set_skip(const net::capture::exclusions& skip,
                const std::vector<net::ipv4_address>& broadcasts,
                std::string& error);

  /// True when both programs are still attached (someone may detach them).
  bool attached() const;
  /// Attaches again what was detached; false with `error` when it cannot.
  bool reattach(std::string& error);

  marker_counters counters() const;

  /// How many programs a killed engine of this namespace had left, which
  /// attach() replaced.
  int replaced() const { return replaced_; }

  struct loaded; // the skeleton and descriptors

private:
  target_marker() = default;
  std::unique_ptr<loaded> bpf_;
  capture_marks marks_;
  uint32_t generation_ = 0; // of the rules in force
  uint32_t down_ = 0;       // PROXY_DOWN: which proxies cannot be used
  int replaced_ = 0;
};

} // namespace drover::platform::linux_port
