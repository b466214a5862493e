#pragma once

// Everything the engine holds while it captures, opened and closed as one:
// Linux: the target cgroup, the raw injector, NFQUEUE and the rule set.
// Destroying the session removes the rules and releases the cgroup.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/platform/packet_port.hpp"
#include "net/capture_rules.hpp"
#include "net/nat.hpp"

namespace drover::platform {

struct capture_options {
  net::listener_address listener;
  net::capture::exclusions skip; // skip.proxy: the resolved proxy address
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
  /// Every process captured now, so a restart (a new proxy, a wake from
  /// sleep) can carry them over, `drover run`'s programs included.
  virtual std::vector<uint32_t> targets() const = 0;

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

/// Sets up capture. Leftovers of a crashed run (rules, cgroup) are removed
/// or adopted first.
capture_result open_capture(const capture_options& opts);

} // namespace drover::platform
