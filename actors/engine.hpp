#pragma once

// The engine's one root. `start_engine` spawns the supervisor with every
// actor the engine has: the parts it starts and stops itself, and the
// services beside them (config watcher, power monitor, control server),
// which it watches and starts again should one stop by itself.
// `stop_engine` takes it down in stages: what brings new input first, then
// the parts and the capture (rules removed), then the control server.

#include <optional>

#include <caf/actor_system.hpp>

#include "actors/platform/sockets.hpp"
#include "config/config_file.hpp"
#include "messages/interfaces.hpp"

namespace drover {

struct engine_setup {
  config::config_file file; // the settings in force; watched for changes
  bool trace = false;       // --trace: the actor trace log from the start
  /// The control socket, listening already: opened first, as it is what
  /// keeps a second engine out.
  platform::socket_handle control = platform::invalid_socket;
  /// The config file's problem at start (running with defaults meanwhile).
  std::optional<config_error> config_problem;
};

/// Spawns the engine (Idle: nothing is captured until atom::start).
supervisor_actor start_engine(caf::actor_system& sys, engine_setup setup);

/// Asks the engine to start and waits (at most 30 s) until it settles:
/// Active (with the first check of proxy number `proxy` done: the one a
/// program started now goes through), Reconnecting (the proxy is down; the
/// engine keeps trying), or Failed.
engine_status start_and_wait(caf::actor_system& sys,
                             const supervisor_actor& sup, size_t proxy = 0);

/// Stops the engine in stages and waits (at most 10 s) until it is down.
void stop_engine(caf::actor_system& sys, const supervisor_actor& sup);

} // namespace drover
