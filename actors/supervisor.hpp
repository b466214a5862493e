#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/engine_parts.hpp"
#include "actors/engine_services.hpp"
#include "actors/engine_timeline.hpp"
#include "actors/lifetime_store.hpp"
#include "actors/platform/capture.hpp"
#include "actors/proxy_probe.hpp"
#include "actors/session_keeper.hpp"
#include "config/settings.hpp"
#include "messages/engine_machine.hpp"
#include "messages/interfaces.hpp"
#include "messages/traffic_watch.hpp"

namespace drover {

/// What the supervisor takes from the operating system. The deterministic
/// tests replace it (a fake capture, scripted proxy checks, no listener).
struct supervisor_ports {
  std::function<platform::guard_result(const platform::guard_options&)>
      open_guard;
  std::function<platform::capture_result(const platform::capture_options&)>
      open_capture;
  std::function<probe_result(const probe_request&)> probe;
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
  // The lifetime traffic totals (stats.json); empty: not kept.
  std::filesystem::path stats_file;
  // What runs beside the parts (none in the deterministic tests).
  std::vector<engine_service> services;

  /// The real thing (platform/*).
  static supervisor_ports platform_defaults();
};

struct supervisor_state {
  static inline constexpr const char* name = "supervisor";

  config::settings settings;
  supervisor_ports ports;
  engine_machine machine;   // what to do next (messages/engine_machine.hpp)
  engine_timeline timeline; // what was said, and to whom
  stats_snapshot stats;

  // From Start to Stop: keeps the targets captured whatever the parts do,
  // with its watchdog (puts back what someone removes).
  guard_hold hold;

  // The capture session: owned here, lent to the parts; it may be held
  // while they are down (fail closed: the queue stays bound).
  session_keeper session;
  engine_parts parts; // the running parts
  service_keeper services;
  // What ends with this actor however it ends: the services, the watchdog.
  std::shared_ptr<std::vector<caf::actor>> companions
      = std::make_shared<std::vector<caf::actor>>();
  caf::error quit_reason;
  // Sleep requests answered once the engine has paused.
  std::vector<caf::typed_response_promise<bool>> sleep_waiters;

  traffic_watch traffic;
  lifetime_store lifetime; // the totals over every run, kept in stats.json
  ~supervisor_state();     // the totals written a last time, however it ends
  bool named_targets_running = false; // procscan's latest scan found some
  std::vector<process_info> targets;  // ... which, with their rules
  bool spawned_target = false;        // `drover run` started its program
  // A new policy for new flows is on its way to the relays: the commands
  // after it (an Active published, say) wait until it is in force, so that
  // no connection is refused once Active is said.
  bool policy_pending = false;
  engine_commands held;
};

/// Owns the engine: carries out what its state machine says (spawns and
/// stops the parts, checks the proxy, sets timers), watches every actor of
/// the engine, tells every listener what happened and why.
/// Spawned by start_engine() (actors/engine.hpp) with the platform's
/// ports, by the deterministic tests with their own.
supervisor_actor::behavior_type
supervisor_with_ports(supervisor_actor::stateful_pointer<supervisor_state> self,
                      config::settings settings, supervisor_ports ports);

} // namespace drover
