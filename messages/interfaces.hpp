#pragma once

// Every actor interface of the engine, in one place. One comment per
// handler. Actors are spawned by the supervisor (see docs/architecture.md);
// the tray, `drover status` and the trace log are engine listeners.

#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/types.hpp"

namespace drover {

/// Anything that follows the engine: the Qt tray, the control socket that
/// serves `drover status`, the trace log.
using engine_listener_actor = caf::typed_actor<
    // A state change or supervision decision (restart, reconnect attempt,
    // config error), in the order the supervisor made them.
    caf::reacts_to<engine_event>,
    // Counters, sent about once a second while the engine runs.
    caf::reacts_to<stats_snapshot>>;

/// The supervisor: owns the engine state machine and the E3 recovery table,
/// spawns and monitors every other engine actor.
using supervisor_actor = caf::typed_actor<
    // User: start proxying (Idle -> Starting -> Active).
    caf::reacts_to<atom::start>,
    // User: stop proxying and release everything (-> Idle).
    caf::reacts_to<atom::stop>,
    // User: leave Failed and start again.
    caf::reacts_to<atom::retry>,
    // Adds a listener; replies with the current status so the listener can
    // draw itself before the next event arrives. Listeners are monitored and
    // dropped when they die.
    caf::replies_to<atom::subscribe,
                    engine_listener_actor>::with<engine_status>,
    // The current state, counters and recent events (`drover status`).
    caf::replies_to<atom::get, atom::status>::with<engine_status>,
    // From procscan: the target processes now running.
    caf::reacts_to<process_set>,
    // From power-monitor: the system is about to sleep (-> Paused).
    caf::reacts_to<atom::sleep>,
    // From power-monitor: the system woke up (Paused -> Starting).
    caf::reacts_to<atom::resume>,
    // From config-watcher: a new valid config is in force.
    caf::reacts_to<config_changed>,
    // From config-watcher: the file is broken; the last good config stays.
    caf::reacts_to<config_error>>;

/// divert-reader: owns the receive side of the platform packet handle
/// (WinDivert or NFQUEUE) on its own thread and hands packets to the
/// flow-manager in batches. Exits with ec::driver_lost when the handle fails.
using divert_reader_actor = caf::typed_actor<
    // The flow-manager returns a processed batch's buffer for reuse, so the
    // packet path allocates nothing in steady state.
    caf::reacts_to<packet_batch>,
    // Release the handle and stop reading.
    caf::reacts_to<atom::stop>>;

/// flow-manager: owns the NAT/flow table (single-threaded), rewrites
/// packets, issues verdicts and injections, spawns socks-sessions.
using flow_manager_actor = caf::typed_actor<
    // Captured packets from the divert-reader.
    caf::reacts_to<packet_batch>,
    // Target processes changed (Windows attributes flows by PID).
    caf::reacts_to<process_set>,
    // The open flows, for `drover status` and the tray's flow list.
    caf::replies_to<atom::get, atom::flows>::with<std::vector<flow_descriptor>>,
    // The counters.
    caf::replies_to<atom::get, atom::stats>::with<stats_snapshot>,
    // Private timer: drop flows idle past their TTL.
    caf::reacts_to<atom::sweep>>;

/// socks-session: one per TCP flow, or one UDP association per application
/// socket. Handshake phases and pumping are separate behaviours. Exits with
/// ec::proxy_unreachable / ec::proxy_auth_rejected / ec::proxy_protocol.
using socks_session_actor = caf::typed_actor<
    // This flow's descriptor and byte counts.
    caf::replies_to<atom::get, atom::flows>::with<flow_descriptor>,
    // Close both sides now (flow idle, engine stopping).
    caf::reacts_to<atom::stop>>;

/// procscan: finds target processes every 2 s and on demand; on Linux also
/// moves them into Drover's cgroup.
using procscan_actor = caf::typed_actor<
    // Scan now (the private timer, or a request after a config change).
    caf::reacts_to<atom::scan>,
    // New target executable names (`[targets]` changed).
    caf::reacts_to<atom::update, std::vector<std::string>>,
    // The latest scan result.
    caf::replies_to<atom::get, atom::processes>::with<process_set>>;

/// power-monitor: turns the OS's suspend/resume notifications into
/// atom::sleep / atom::resume for the supervisor, from a thin thread.
using power_monitor_actor = caf::typed_actor<
    // Stop listening and release the OS subscription.
    caf::reacts_to<atom::stop>>;

/// config-watcher: watches the config file and publishes config_changed or
/// config_error to the supervisor.
using config_watcher_actor = caf::typed_actor<
    // Re-read the file now (from the file-watch thread, or on demand).
    caf::reacts_to<atom::reload>,
    // Stop watching.
    caf::reacts_to<atom::stop>>;

} // namespace drover
