#pragma once

// Every actor interface of the engine, in one place. One comment per
// handler. Actors are spawned by the supervisor (see docs/architecture.md);
// the tray, `drover status` and the trace log are engine listeners.

#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

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
    // `config set` (from the control server): handed to the config store.
    caf::replies_to<atom::update, std::string>::with<std::string>,
    // Private: the capture session was destroyed (let go, and its last
    // borrower down): a start waiting for it goes on.
    caf::reacts_to<atom::closed>,
    // From the flow-manager: it lent the capture session on to this actor
    // (a UDP association); the session stays until that is down too.
    caf::reacts_to<atom::add, caf::actor>,
    // Adds a listener; replies with the current status so the listener can
    // draw itself before the next event arrives. Listeners are monitored and
    // dropped when they die.
    caf::replies_to<atom::subscribe,
                    engine_listener_actor>::with<engine_status>,
    // The current state, counters and recent events (`drover status`).
    caf::replies_to<atom::get, atom::status>::with<engine_status>,
    // The open flows (`drover status`).
    caf::replies_to<atom::get, atom::flows>::with<std::vector<flow_descriptor>>,
    // `drover run [--proxy NAME]`: starts a program as a target from its
    // first socket on, through the proxy NAME ("": the first); replies
    // with its process ID.
    caf::replies_to<atom::spawn, std::vector<std::string>,
                    std::string>::with<int64_t>,
    // `drover run` beside the running engine (the control socket's `run
    // PID`): puts PID in place as a target before it execs. The caller's
    // process and user come from the kernel (SO_PEERCRED); PID must be
    // the caller or its child; through the proxy named last ("": the
    // first). Replies with a note for the caller (empty, or why its
    // connections wait), or an error that is a sentence.
    caf::replies_to<atom::spawn, uint32_t, uint32_t, uint32_t,
                    std::string>::with<std::string>,
    // From procscan: the target processes now running.
    caf::reacts_to<process_set>,
    // From power-monitor: the system is about to sleep (-> Paused). The
    // reply comes once connections are closed (the capture stays: the
    // targets' packets are dropped until the wake).
    caf::replies_to<atom::sleep>::with<bool>,
    // From power-monitor: the system woke up (Paused -> Starting).
    caf::reacts_to<atom::resume>,
    // From config-watcher: a new valid config is in force.
    caf::reacts_to<config_changed>,
    // From config-watcher: the file is broken; the last good config stays.
    caf::reacts_to<config_error>,
    // From the guard watchdog: what it put back (the capture rules after a
    // firewall reload, say), or why it could not.
    caf::reacts_to<atom::repair, std::string>,
    // From the flow-manager: its counters, every second (passed on to the
    // listeners with what only the supervisor knows).
    caf::reacts_to<stats_snapshot>,
    // Private timer: every engine.heartbeat_interval, look whether traffic
    // moves while targets run ("Active (no traffic)").
    caf::reacts_to<atom::heartbeat>,
    // From a socks-session, UDP association or relay: proxy number
    // `proxy` failed it (why); the supervisor checks that proxy and
    // reconnects if it is down.
    // From the control server (`check [NAME]`): each proxy, or the one
    // named, checked as `drover check --json` would, with the passwords
    // only the engine has; the JSON, or "error\n" and why.
    caf::replies_to<atom::get, atom::check, std::string>::with<std::string>,
    caf::reacts_to<atom::check, std::string, uint32_t>,
    // From the proxy-check worker: the result of a health check.
    caf::reacts_to<proxy_check>,
    // Private timer: the next reconnect attempt of backoff series `gen`.
    caf::reacts_to<atom::retry, uint64_t>,
    // Private timer: after a wake, look for a route to the proxy again
    // (the number of looks so far).
    caf::reacts_to<atom::resume, uint32_t>,
    // Test hook (fault-injection builds only): make an engine part fail
    // ("panic": the flow-manager throws; "driver-lost": the packet handle
    // fails; "kill-procscan": an unclassified exit). Replies what was done.
    caf::replies_to<atom::fault, std::string>::with<std::string>>;

/// divert-reader: owns the receive side of the platform packet handle
/// (WinDivert or NFQUEUE) on its own thread and hands packets to the
/// flow-manager in batches. Exits with ec::driver_lost when the handle fails.
using divert_reader_actor = caf::typed_actor<
    // The flow-manager returns a processed batch's buffer for reuse, so the
    // packet path allocates nothing in steady state.
    caf::reacts_to<packet_batch>,
    // Release the handle and stop reading.
    caf::reacts_to<atom::stop>,
    // Private: the receive thread failed (the error, for the user).
    caf::reacts_to<atom::internal, std::string>>;

/// kernel-relay (Linux): the socks-session of every TCP connection the kernel
/// redirects, on the relay's own threads (actors/kernel_relay.hpp). Its
/// streams' news goes to the flow-manager, which keeps them in the table.
using kernel_relay_actor = caf::typed_actor<
    // From the flow-manager: a flow left the table (evicted, expired): its
    // stream (by the relay's id) ends.
    caf::reacts_to<atom::stop, uint64_t>,
    // From the flow-manager: what new connections and datagrams get.
    caf::reacts_to<atom::update, flow_policy>,
    // From the flow-manager: every stream ends now (the computer sleeps).
    caf::reacts_to<atom::reset>,
    // From the supervisor, after each check of the proxy: whether it reads
    // a greeting and a request sent together (proxy_check::pipelining).
    caf::reacts_to<atom::update, atom::check, bool>,
    // From the supervisor, before `drover run` starts a target: whether new
    // connections are relayed now. Answered after every policy the
    // flow-manager forwarded earlier, so the target's first connection
    // meets the policy in force.
    caf::replies_to<atom::get, atom::status>::with<bool>>;

/// flow-manager: owns the NAT/flow table (single-threaded), rewrites
/// packets, issues verdicts and injections.
using flow_manager_actor = caf::typed_actor<
    // Captured packets from the divert-reader.
    caf::reacts_to<packet_batch>,
    // From the TCP listener: the flow behind an accepted connection's peer.
    // Anything not found is refused (the listener is no open relay).
    caf::replies_to<atom::get, net::endpoint>::with<flow_lookup>,
    // From a socks-session: its flow's byte counts so far (in, out).
    caf::reacts_to<atom::update, flow_lookup, uint64_t, uint64_t>,
    // From a socks-session: its flow is over; the entry lingers briefly
    // for the last FIN/ACK packets, then expires.
    caf::reacts_to<atom::closed, flow_lookup>,
    // Target processes changed (Windows attributes flows by PID).
    caf::reacts_to<process_set>,
    // The open flows, for `drover status` and the tray's flow list.
    caf::replies_to<atom::get, atom::flows>::with<std::vector<flow_descriptor>>,
    // The counters now (`drover status`).
    caf::replies_to<atom::get, atom::stats>::with<stats_snapshot>,
    // Private timer: push the counters to the supervisor.
    caf::reacts_to<atom::stats>,
    // Private timer: drop flows idle past their TTL.
    caf::reacts_to<atom::sweep>,
    // From the supervisor: what to do with new flows (proxy them, or, while
    // the proxy cannot be used, refuse, drop or let them out direct), for
    // TCP and UDP each (a TCP-only proxy carries TCP only).
    caf::reacts_to<atom::update, flow_policy>,
    // From the supervisor: the same for one proxy's targets (several
    // proxies: each one's relay).
    caf::reacts_to<atom::update, uint32_t, flow_policy>,
    // From the supervisor, after a policy: answered once every relay has
    // taken what was forwarded to it before (each relay's own status
    // request), so Active is said only when new connections meet it.
    caf::replies_to<atom::get, atom::status>::with<bool>,
    // From the supervisor: end every flow now (the computer goes to sleep);
    // replies how many there were.
    caf::replies_to<atom::reset>::with<uint32_t>,
    // From the TCP listener: the socks-session it started for a flow, so
    // the session ends when its flow is evicted, expires or is reset.
    caf::reacts_to<atom::add, flow_lookup, caf::actor>,
    // Set-up: the divert-reader that processed batches go back to.
    caf::reacts_to<atom::internal, divert_reader_actor>,
    // From the kernel-relay: what happened to its streams (opened, bytes,
    // ended, refused), in batches.
    caf::reacts_to<net::stream_news_batch>,
    // Set-up: the kernel-relay of proxy number N, whose streams are flows
    // of the table.
    caf::reacts_to<atom::internal, kernel_relay_actor, uint32_t>,
    // Test hook (fault-injection builds only): throw, as a bug would.
    caf::reacts_to<atom::fault>,
    // Test hook (fault-injection builds only): handle nothing for this many
    // milliseconds, as an engine that falls behind would.
    caf::reacts_to<atom::fault, uint32_t>>;

// The TCP listener and the socks-sessions are CAF 0.17 io::brokers, which
// are dynamically typed; what they handle is listed here.
//
// tcp-listener (actors/socks_session.hpp): accepts on 127.0.0.1, asks the
//   flow-manager for each connection's flow (flow_lookup), refuses unknown
//   peers, forks one socks-session per known one. From the supervisor,
//   after each check of a proxy: (atom::update, atom::check, uint32_t
//   proxy, bool reads_pipelined), whether that proxy's sessions send the
//   greeting and the request together.
// socks-session (actors/socks_session.hpp): one per TCP flow. One
//   behaviour: the SOCKS5 exchange (net/socks5_handshake) until the proxy
//   connected, then relaying; sends atom::update / atom::closed to the
//   flow-manager and ends on atom::stop from it (its flow left the table).
//   Tells the supervisor (atom::check) when the proxy fails it.

/// guard-watch: every second, puts back what someone took from the capture
/// guard (rules flushed by a firewall reload, kernel programs detached) and
/// tells the supervisor. On a thread of its own: the checks block.
using guard_watch_actor = caf::typed_actor<
    // Private timer: check now.
    caf::reacts_to<atom::internal>>;

/// procscan: finds target processes every 2 s and on demand (a safety net
/// and the status view: capture itself starts at the process's first
/// socket, see docs/architecture.md); takes over the sockets a newly found
/// target made before it was one.
using procscan_actor = caf::typed_actor<
    // Scan now (on demand).
    caf::reacts_to<atom::scan>,
    // Private timer: scan every 2 s.
    caf::reacts_to<atom::internal>,
    // New rules (`[[rule]]` changed).
    caf::reacts_to<atom::update, config_changed>,
    // The latest scan result.
    caf::replies_to<atom::get, atom::processes>::with<process_set>>;

/// power-monitor: turns the OS's suspend/resume notifications into
/// atom::sleep / atom::resume for the supervisor, from a thin thread, and
/// lets the OS sleep once the supervisor has paused.
using power_monitor_actor = caf::typed_actor<
    // Stop listening and release the OS subscription.
    caf::reacts_to<atom::stop>,
    // From its thread: the system is about to sleep.
    caf::reacts_to<atom::sleep>,
    // From its thread: the system woke up.
    caf::reacts_to<atom::resume>,
    // From its thread: the subscription failed (why).
    caf::reacts_to<atom::internal, std::string>>;

/// config-watcher: watches the config file and publishes config_changed or
/// config_error to the supervisor.
using config_watcher_actor = caf::typed_actor<
    // The file changed (from the file-watch thread), or re-read it on
    // demand; read after a short quiet time, so a burst of writes is read
    // once, whole.
    caf::reacts_to<atom::reload>,
    // Private timer: the quiet time of change `generation` is over.
    caf::reacts_to<atom::internal, uint64_t>,
    // `config set`: new config text, validated, written and applied in one
    // go; "ok", or "error" and one diagnostic per line.
    caf::replies_to<atom::update, std::string>::with<std::string>,
    // Stop watching.
    caf::reacts_to<atom::stop>>;

} // namespace drover
