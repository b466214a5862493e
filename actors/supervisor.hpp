#pragma once

#include <deque>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/platform/capture.hpp"
#include "config/settings.hpp"
#include "messages/interfaces.hpp"
#include "messages/recovery_policy.hpp"

namespace drover {

struct supervisor_state {
  static inline constexpr const char* name = "supervisor";
  static constexpr size_t recent_events = 50;

  config::settings settings;
  engine_event last;               // the latest state change
  std::deque<engine_event> recent; // the latest events, oldest first
  std::vector<engine_listener_actor> listeners;
  stats_snapshot stats;

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
  bool hold_capture = false;       // Failed: keep the rules when the parts stop
  // Sleep requests answered once the engine is down.
  std::vector<caf::typed_response_promise<bool>> sleep_waiters;
  // The target set of a capture released for a restart, for the next one
  // (sockets opened before the restart stay captured).
  std::shared_ptr<platform::kept_targets> kept_targets;

  // Supervision (see messages/recovery_policy.hpp).
  recovery_policy policy;
  bool probing = false;          // a proxy check is running
  uint64_t retry_generation = 0; // which backoff timer is current
  net::endpoint proxy;           // resolved at Start
};

/// Owns the engine: spawns and monitors its actors, drives the state
/// machine, tells every listener what happened and why.
supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           config::settings settings);

} // namespace drover
