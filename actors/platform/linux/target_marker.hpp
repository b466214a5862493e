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

#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

/// The marks of one network namespace's capture, derived from its cookie so
/// that engines in different namespaces never share them.
struct capture_marks {
  uint32_t target = 0; // sockets of targets (set by the kernel program)
  uint32_t pass = 0;   // packets the engine lets out direct on purpose
};

/// This network namespace's cookie (never reused while the system runs),
/// or 0 when the kernel cannot tell it.
uint64_t netns_cookie();

capture_marks marks_for(uint64_t cookie);

struct marker_settings {
  std::string cgroup_root;          // the cgroup2 mount to attach at
  uint64_t engine_cgroup_id = 0;    // `drover run`'s group: all its members
  uint32_t engine_cgroup_level = 0; // its depth below the hierarchy's root
};

/// A target name, as the kernel compares it: the executable's file name
/// or the command name, exactly.
struct target_name {
  std::string name;
  bool with_children = false; // its descendants are targets too
};

struct marker_counters {
  uint64_t sockets_marked = 0;
  uint64_t packets_fenced = 0; // a target's packets stopped by the fence
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

  /// Replaces the target names (at most 1024, each under 64 bytes).
  bool set_names(const std::vector<target_name>& names, std::string& error);
  /// Replaces the users whose processes may be targets by name.
  bool set_users(const std::vector<uint32_t>& uids, std::string& error);
  /// Replaces the destinations a target may reach directly: the same as
  /// the rule set leaves alone (the proxy, [skip] ranges, ...).
  bool set_skip(const net::capture::exclusions& skip, std::string& error);

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
  int replaced_ = 0;
};

/// Detaches every Drover program whose network namespace no longer exists
/// (test clean-up after a killed run). Returns how many.
int detach_orphaned_programs(const std::string& cgroup_root);

} // namespace drover::platform::linux_port
