#pragma once

// Everything the engine holds while it captures, opened and closed as one:
// Linux: the target cgroup, the raw injector, NFQUEUE and the rule set.
// Destroying the session removes the rules and releases the cgroup.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/platform/packet_port.hpp"
#include "net/capture_rules.hpp"
#include "net/nat.hpp"

namespace drover::platform {

/// A capture session's target set, handed to the next session over a
/// restart (a new proxy, a reopened handle, a wake, Retry), so that sockets
/// the targets opened before it stay captured. Linux: the cgroup itself, as
/// a socket keeps the cgroup it was made in and the rules match the group,
/// not its name. Dropping it releases the set.
class kept_targets {
public:
  virtual ~kept_targets() = default;
};

struct capture_options {
  net::listener_address listener;
  net::capture::exclusions skip; // skip.proxy: the resolved proxy address
  std::shared_ptr<kept_targets> targets; // from the previous session, or null
  /// Windows: how long a flow's first packet waits for the socket event
  /// that names its process, before the OS's socket tables are asked.
  std::chrono::milliseconds owner_wait{150};
};

class capture_session {
public:
  virtual ~capture_session() = default;

  virtual packet_port& port() = 0;
  virtual packet_injector& injector() = 0;

  /// Makes a running process a target (Linux: moves it into the cgroup;
  /// its sockets created from now on are captured).
  virtual bool add_target(uint32_t pid, std::string& error) = 0;
  virtual bool is_target(uint32_t pid) const = 0;
  /// The process is gone (procscan no longer sees it): its ID may be
  /// reused by another program, which must not inherit the capture.
  /// Linux: nothing to do (an exited process leaves its cgroup).
  virtual void forget_target(uint32_t pid) = 0;
  /// Gives the target set up for the next session; this session then
  /// releases only its rules and queue. Call once, just before destroying it.
  virtual std::shared_ptr<kept_targets> keep_targets() = 0;

  /// Starts a program as a target from its first socket on. Returns its
  /// process ID, or -1 with `error` set.
  virtual long spawn_target(const std::vector<std::string>& argv,
                            std::string& error)
      = 0;

  /// What was set up, for the log ("NFQUEUE 7042, cgroup drover-...").
  virtual std::string description() const = 0;
};

enum class capture_failure : uint8_t {
  none,
  not_permitted, // missing privileges
  unavailable,   // the capture machinery could not be set up
};

struct capture_result {
  std::shared_ptr<capture_session> session;
  capture_failure failure = capture_failure::none;
  std::string error; // a sentence for the user
};

/// What a user can do when capture cannot be set up although the
/// privileges are there (the E3 "driver gone" class): the reinstall hint.
std::string capture_repair_hint();

/// Sets up capture. Leftovers of a crashed run (rules, cgroup) are removed
/// or adopted first.
capture_result open_capture(const capture_options& opts);

} // namespace drover::platform
