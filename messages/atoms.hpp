#pragma once

// The engine's verbs and roles. CAF 0.17 atoms: at most 10 characters.

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

#include "messages/types.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(drover, caf::first_custom_type_id)

  // -- payload types --
  CAF_ADD_TYPE_ID(drover, (drover::engine_event))
  CAF_ADD_TYPE_ID(drover, (drover::stats_snapshot))
  CAF_ADD_TYPE_ID(drover, (drover::flow_descriptor))
  CAF_ADD_TYPE_ID(drover, (std::vector<drover::flow_descriptor>))
  CAF_ADD_TYPE_ID(drover, (drover::process_info))
  CAF_ADD_TYPE_ID(drover, (drover::process_set))
  CAF_ADD_TYPE_ID(drover, (drover::engine_status))
  CAF_ADD_TYPE_ID(drover, (drover::config_error))
  CAF_ADD_TYPE_ID(drover, (drover::flow_lookup))
  CAF_ADD_TYPE_ID(drover, (drover::net::endpoint))
  CAF_ADD_TYPE_ID(drover, (drover::proxy_check))
  CAF_ADD_TYPE_ID(drover, (drover::new_flow_policy))
  CAF_ADD_TYPE_ID(drover, (drover::flow_policy))
  CAF_ADD_TYPE_ID(drover, (drover::net::stream_news))
  CAF_ADD_TYPE_ID(drover, (std::vector<drover::net::stream_news>))
  CAF_ADD_TYPE_ID(drover, (drover::proxy_row))

  // -- user commands --
  CAF_ADD_ATOM(drover, drover::atom, start, "start")
  CAF_ADD_ATOM(drover, drover::atom, stop, "stop")
  CAF_ADD_ATOM(drover, drover::atom, retry, "retry")
  CAF_ADD_ATOM(drover, drover::atom, check, "check")
  CAF_ADD_ATOM(drover, drover::atom, spawn, "spawn")
  CAF_ADD_ATOM(drover, drover::atom, fault, "fault")

  // -- queries and subscriptions --
  CAF_ADD_ATOM(drover, drover::atom, get, "get")
  CAF_ADD_ATOM(drover, drover::atom, status, "status")
  CAF_ADD_ATOM(drover, drover::atom, stats, "stats")
  CAF_ADD_ATOM(drover, drover::atom, flows, "flows")
  CAF_ADD_ATOM(drover, drover::atom, processes, "processes")
  CAF_ADD_ATOM(drover, drover::atom, subscribe, "subscribe")
  CAF_ADD_ATOM(drover, drover::atom, update, "update")
  CAF_ADD_ATOM(drover, drover::atom, closed, "closed")
  CAF_ADD_ATOM(drover, drover::atom, reset, "reset")
  CAF_ADD_ATOM(drover, drover::atom, add, "add")

  // -- system events --
  CAF_ADD_ATOM(drover, drover::atom, sleep, "sleep")
  CAF_ADD_ATOM(drover, drover::atom, resume, "resume")
  CAF_ADD_ATOM(drover, drover::atom, reload, "reload")
  CAF_ADD_ATOM(drover, drover::atom, repair, "repair")

  // -- private loops (timers an actor sends itself) --
  CAF_ADD_ATOM(drover, drover::atom, scan, "scan")
  CAF_ADD_ATOM(drover, drover::atom, sweep, "sweep")
  CAF_ADD_ATOM(drover, drover::atom, heartbeat, "heartbeat")
  CAF_ADD_ATOM(drover, drover::atom, internal, "internal")

CAF_END_TYPE_ID_BLOCK(drover)

namespace drover {

/// Registers the engine's message types and error category with CAF.
void add_message_types(caf::actor_system_config& cfg);

} // namespace drover
