#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/platform/capture.hpp"
#include "actors/platform/proxy_probe.hpp"
#include "config/settings.hpp"
#include "messages/interfaces.hpp"
#include "messages/recovery_policy.hpp"

namespace drover {

/// What the supervisor takes from the operating system. The deterministic
/// tests replace it (a fake capture, scripted proxy checks, no listener).
struct supervisor_ports {
  std::function<platform::guard_result(const platform::guard_options&)>
      open_guard;
  std::function<platform::capture_result(const platform::capture_options&)>
      open_capture;
  std::function<platform::probe_result(const platform::probe_request&)> probe;
  std::function<std::optional<net::ipv4_address>(const std::string& host,
                                                 std::string& error)>
      resolve;
  std::function<bool(net::ipv4_address)> has_route;
  bool probe_on_own_thread = true; // false: answered inline (tests)
  bool with_listener = true;       // false: no TCP listener (no middleman)
  bool watch_on_own_thread = true; // false: the guard's watchdog is not
                                   // detached (the test coordinator runs it)
  std::chrono::milliseconds guard_check_interval{1000};
  std::filesystem::path crash_dir; // empty: beside the log file
  // Tests: sees each capture session as the engine parts share it (a test
  // holds one to play an engine part that lets go late).
  std::function<void(std::shared_ptr<platform::capture_session>)>
      capture_shared;

  /// The real thing (platform/*).
  static supervisor_ports platform_defaults();
};

struct supervisor_state {
  static inline constexpr const char* name = "supervisor";
  static constexpr size_t recent_events = 50;

  config::settings settings;
  supervisor_ports ports;
  engine_event last;               // the latest state change
  std::deque<engine_event> recent; // the latest events, oldest first
  std::vector<engine_listener_actor> listeners;
  stats_snapshot stats;

  // From Start to Stop: keeps the targets captured whatever the parts do.
  std::shared_ptr<platform::capture_guard> guard;
  guard_watch_actor watchdog; // puts back what someone removes

  // The running engine (Starting .. Active); empty when Idle.
  std::shared_ptr<platform::capture_session> capture;
  flow_manager_actor flow_manager;
  divert_reader_actor reader;
  procscan_actor scanner;
  caf::actor listener;
  std::vector<caf::actor_addr> children;
  bool stopping = false;
  bool quit_when_stopped = false;
  bool start_when_stopped = false; // Retry from Failed: stop, then start
  bool pause_when_stopped = false; // going to sleep: Paused, not Idle
  bool resuming = false;           // woke up: waiting for the network
  bool reopening = false;          // the packet handle was lost: reopen
  bool restarting = false;         // a restart waits for the old session
  bool hold_capture = false;       // Failed: keep the rules when the parts stop
  // Sleep requests answered once the engine is down.
  std::vector<caf::typed_response_promise<bool>> sleep_waiters;
  // Capture sessions not yet destroyed. An engine part on its way down may
  // hold the old one a little longer than the supervisor does; the next
  // session waits for it, as both use the same packet queue (binding it
  // early fails).
  std::shared_ptr<std::atomic<int>> live_captures
      = std::make_shared<std::atomic<int>>(0);
  bool start_when_released = false; // a start waits for the old session

  // Supervision (see messages/recovery_policy.hpp).
  recovery_policy policy;
  bool probing = false;          // a proxy check is running
  uint64_t retry_generation = 0; // which backoff timer is current
  net::endpoint proxy;           // resolved at Start (0.0.0.0: not found)

  // Heartbeat ("Active (no traffic)").
  uint64_t last_bytes = 0;
  caf::actor_clock::time_point last_traffic;
  bool named_targets_running = false; // procscan's latest scan found some
  bool spawned_target = false;        // `drover run` started its program
};

/// Owns the engine: spawns and monitors its actors, drives the state
/// machine, tells every listener what happened and why.
supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           config::settings settings);

/// Whether this build answers `fault` commands on the control socket: test
/// builds only. `drover --version` says so, and installs and packages
/// refuse such a build.
bool fault_hooks_built_in();

/// The same with other ports (tests).
supervisor_actor::behavior_type
supervisor_with_ports(supervisor_actor::stateful_pointer<supervisor_state> self,
                      config::settings settings, supervisor_ports ports);

} // namespace drover
