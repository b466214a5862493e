#pragma once

// The engine's message payloads: passive records with inspect() so CAF can
// copy, print and (if ever needed) serialize them.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "messages/error.hpp"
#include "messages/lifetime_totals.hpp"
#include "net/packet.hpp"
#include "net/stream_news.hpp"

namespace drover::config {
struct settings;
}

namespace drover::net {

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, endpoint& x) {
  return f(caf::meta::type_name("endpoint"), x.ip.value, x.port);
}

} // namespace drover::net

namespace drover {

/// The engine state machine (seed §"Engine state machine").
enum class engine_state : uint8_t {
  idle,         // off: nothing captured
  starting,     // opening the packet handle, health check
  active,       // proxying
  reconnecting, // proxy unreachable, backing off
  paused,       // system asleep
  failed,       // stopped by an error; Retry starts again
};

/// Why something failed: the E3 failure classes. The class picks the
/// recovery action (see recovery.hpp).
enum class failure_class : uint8_t {
  none,
  driver_lost,       // packet handle failed at run time
  driver_gone,       // driver missing or blocked: reinstall
  proxy_unreachable, // proxy down or unreachable
  auth_rejected,     // the proxy refused the credentials
  panic,             // an exception escaped an actor
  sleep,             // the system suspends
  resume,            // the system woke up
  fatal,             // anything unclassified
};

/// What the supervisor does about a failure class.
enum class recovery_action : uint8_t {
  none,
  retry_once,  // reopen after a pause; a second loss soon after is fatal
  exp_backoff, // reconnect with exponential backoff up to a total cap
  fail_stop,   // go to Failed (with a crash report for panics)
  pause,       // drain, close upstream connections, release the handle
  resume,      // wait for the network, reopen, health-check, Active
};

/// What the flow-manager does with a target's new TCP connection and its
/// UDP datagrams. Connections already proxied go on either way.
enum class new_flow_policy : uint8_t {
  proxy,  // Active: through the proxy
  refuse, // the proxy cannot be used: TCP refused (a reset), UDP dropped;
          // while TCP is proxied (a TCP-only proxy) UDP is refused too (an
          // ICMP port unreachable)
  direct, // the proxy cannot be used and `when_not_proxying = "direct"`
  drop,   // Paused (the computer sleeps): dropped without an answer
};

/// The policy for each protocol: a proxy without UDP ASSOCIATE (a TCP-only
/// proxy) carries the targets' TCP while their UDP follows
/// `when_not_proxying`.
struct flow_policy {
  new_flow_policy tcp = new_flow_policy::proxy;
  new_flow_policy udp = new_flow_policy::proxy;
  static flow_policy both(new_flow_policy p) { return {p, p}; }
  bool operator==(const flow_policy& o) const {
    return tcp == o.tcp && udp == o.udp;
  }
  bool operator!=(const flow_policy& o) const { return !(*this == o); }
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_policy& x) {
  return f(caf::meta::type_name("flow_policy"), x.tcp, x.udp);
}

/// What kind of thing an engine event reports, for the tray's timeline.
enum class event_kind : uint8_t {
  state_changed,     // the engine moved to a new state
  restart,           // a child actor was restarted
  reconnect_attempt, // one more try to reach the proxy
  config_error,      // the config file is broken; last good kept
  config_applied,    // a changed config took effect
  info,              // anything else worth showing (e.g. "no traffic")
};

const char* to_string(engine_state x);
const char* to_string(failure_class x);
const char* to_string(recovery_action x);
const char* to_string(event_kind x);
const char* to_string(new_flow_policy x);

/// Published to every subscriber on each transition and supervision
/// decision. `reason` is written for a user, not a developer.
struct engine_event {
  event_kind kind = event_kind::state_changed;
  engine_state state = engine_state::idle;
  std::string reason;
  failure_class failure = failure_class::none;
  uint32_t attempt = 0; // reconnect/restart attempt, 0 when not retrying
  caf::timestamp time;
  /// Active through a proxy that does not relay UDP: TCP goes through it,
  /// the targets' UDP (voice) follows `when_not_proxying`.
  bool tcp_only = false;
  /// Active, but not every proxy can be used: the programs of those that
  /// cannot follow their fallback (the tray is yellow).
  bool degraded = false;
  /// The proxy (its name) an event is about, with several; else empty.
  std::string proxy;
};

/// What a log line or the event list shows before an event's reason: the
/// state, or "config error" / "config" for config events.
const char* label(const engine_event& e);

/// "950 B", "4.0 KB", "1.2 MB" (1 KB = 1000 B, as network traffic is
/// counted): the same in `drover status`, the tray and the window.
std::string bytes_text(uint64_t bytes);

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, engine_event& x) {
  return f(caf::meta::type_name("engine_event"), x.kind, x.state, x.reason,
           x.failure, x.attempt, x.time, x.tcp_only, x.degraded, x.proxy);
}

/// Engine-wide counters, sampled for the tray's status row and `status`.
struct stats_snapshot {
  uint64_t bytes_in = 0;          // from the proxy to applications
  uint64_t bytes_out = 0;         // from applications to the proxy
  uint32_t tcp_flows = 0;         // open proxied TCP connections
  uint32_t udp_flows = 0;         // open UDP associations
  uint64_t packets_dropped = 0;   // malformed, over the cap, fail-closed
  uint64_t ipv6_dropped = 0;      // IPv6 from a target (never leaked)
  uint64_t queue_overflows = 0;   // capture queue full
  uint64_t refused_listener = 0;  // listener connections not redirected
  uint64_t flows_evicted = 0;     // oldest-idle evictions at the flow cap
  uint64_t packets_fenced = 0;    // a target's packets the fence stopped
                                  // (Linux: the kernel's; Windows: between
                                  // two sessions)
  uint64_t connections_reset = 0; // a target's segments of no known flow
  // Windows: how the capture session sorted the machine's packets by their
  // owner (platform::sorting_counters; 0 on Linux, whose kernel does it).
  uint64_t packets_passed = 0;          // other programs': let out
  uint64_t packets_held = 0;            // waited for their owner
  uint64_t packets_unowned_passed = 0;  // no owner found: let out
  uint64_t packets_unowned_dropped = 0; // no owner found: dropped
  caf::timestamp active_since;          // start of the current Active period
  bool no_traffic = false; // Active, targets run, yet nothing moved lately
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats_snapshot& x) {
  return f(caf::meta::type_name("stats_snapshot"), x.bytes_in, x.bytes_out,
           x.tcp_flows, x.udp_flows, x.packets_dropped, x.ipv6_dropped,
           x.queue_overflows, x.refused_listener, x.flows_evicted,
           x.packets_fenced, x.connections_reset, x.packets_passed,
           x.packets_held, x.packets_unowned_passed, x.packets_unowned_dropped,
           x.active_since, x.no_traffic);
}

/// Whether the capture sorted packets by their owner itself (Windows, where
/// every program's packets reach Drover): then `drover status` and the
/// tray say how.
inline bool capture_sorted_packets(const stats_snapshot& s) {
  return s.packets_passed + s.packets_held + s.packets_unowned_passed
             + s.packets_unowned_dropped
         > 0;
}

/// One proxied flow, for the flow list in `status` and the tray window.
struct flow_descriptor {
  uint64_t id = 0;
  uint8_t protocol = 0;     // 6 TCP, 17 UDP
  uint32_t pid = 0;         // 0 when unknown
  std::string process;      // executable name, when known
  std::string rule;         // the rule that made it a target, when known
  uint32_t proxy_index = 0; // which proxy carries it (its place)
  std::string proxy;        // ... by name, with several proxies
  uint32_t src_ip = 0;      // host byte order
  uint16_t src_port = 0;
  uint32_t dst_ip = 0; // the original destination
  uint16_t dst_port = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  caf::timestamp started;
  caf::timestamp last_seen;
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_descriptor& x) {
  return f(caf::meta::type_name("flow_descriptor"), x.id, x.protocol, x.pid,
           x.process, x.rule, x.proxy_index, x.proxy, x.src_ip, x.src_port,
           x.dst_ip, x.dst_port, x.bytes_in, x.bytes_out, x.started,
           x.last_seen);
}

/// The flow-manager's answer to the listener: the flow behind an accepted
/// connection's peer address (found = false: not a redirected flow).
struct flow_lookup {
  bool found = false;
  uint64_t id = 0;
  net::endpoint app;    // the application's socket
  net::endpoint remote; // where it wanted to go
  uint32_t proxy = 0;   // which proxy carries it (its place)
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_lookup& x) {
  return f(caf::meta::type_name("flow_lookup"), x.found, x.id, x.app, x.remote,
           x.proxy);
}

const char* to_string(net::stream_news::kind x);

} // namespace drover

namespace drover::net {

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_news& x) {
  return f(caf::meta::type_name("stream_news"), x.what, x.protocol, x.id, x.app,
           x.remote, x.in, x.out);
}

} // namespace drover::net

namespace drover {

/// A running process that matched `[targets]`.
struct process_info {
  uint32_t pid = 0;
  uint32_t parent_pid = 0;
  std::string name;
  std::string rule; // the rule that made it a target
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_info& x) {
  return f(caf::meta::type_name("process_info"), x.pid, x.parent_pid, x.name,
           x.rule);
}

/// The target processes procscan found in its latest scan.
struct process_set {
  std::vector<process_info> processes;
  uint64_t generation = 0; // increases with every change
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_set& x) {
  return f(caf::meta::type_name("process_set"), x.processes, x.generation);
}

/// The engine's answer to `status`: where it is and what it does.
/// One proxy's row in `status` and the tray (several proxies).
struct proxy_row {
  std::string name;
  std::string host;
  uint16_t port = 0;
  std::string state;     // checking, up, reconnecting, failed
  bool tcp_only = false; // up without UDP ASSOCIATE
  uint32_t attempt = 0;  // reconnecting: which attempt
  std::string reason;    // reconnecting, failed: why
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, proxy_row& x) {
  return f(caf::meta::type_name("proxy_row"), x.name, x.host, x.port, x.state,
           x.tcp_only, x.attempt, x.reason);
}

struct engine_status {
  engine_event last; // the latest state change
  stats_snapshot stats;
  std::vector<engine_event> recent;  // the last events, oldest first
  std::vector<process_info> targets; // running, with the rule of each
  std::vector<proxy_row> proxies;    // each proxy's health, in order
  lifetime_totals lifetime;          // every run's bytes, from stats.json on
  uint64_t reconnect_attempts = 0;   // since the engine started
  uint64_t restarts = 0;             // of the parts, since it started
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, engine_status& x) {
  return f(caf::meta::type_name("engine_status"), x.last, x.stats, x.recent,
           x.targets, x.proxies, x.lifetime, x.reconnect_attempts, x.restarts);
}

/// A new config is in force. Which sections changed decides what restarts:
/// [proxy] restarts the engine, the others apply live.
struct config_changed {
  std::shared_ptr<const config::settings> settings;
  bool proxy_changed = false;
  bool targets_changed = false;
  bool rules_changed = false; // [[rule]]: applied live, like [targets]
  bool skip_changed = false;
  bool ui_changed = false;
  bool engine_changed = false;
  // [engine]'s flow keys (idle timeouts, max_flows): the parts take them
  // when they start.
  bool engine_parts_changed = false;
  bool metrics_changed = false; // [metrics]: the endpoint moves
};

/// The config file on disk is broken; the config in force did not change.
struct config_error {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string key;
  std::string message; // every error, one per line, with locations
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, config_error& x) {
  return f(caf::meta::type_name("config_error"), x.file, x.line, x.column,
           x.key, x.message);
}

/// The result of the supervisor's proxy check (before Active, and when a
/// connection through the proxy failed). `drover check` prints the
/// platform's step-by-step probe_result instead.
struct proxy_check {
  uint32_t proxy = 0; // which proxy (its place in the config)
  bool ok = false;
  failure_class failure = failure_class::none;
  std::string reason;      // the first failed step, for a user
  uint32_t proxy_ip = 0;   // the address the proxy's name has now; 0: unknown
  bool pipelining = false; // it reads a greeting and request sent together
  /// It answered UDP ASSOCIATE (false: a TCP-only proxy, `udp_reason` says
  /// how it refused).
  bool udp = true;
  std::string udp_reason;
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, proxy_check& x) {
  return f(caf::meta::type_name("proxy_check"), x.proxy, x.ok, x.failure,
           x.reason, x.proxy_ip, x.pipelining, x.udp, x.udp_reason);
}

/// Datagrams an application sent, for its UDP association: one message per
/// association per packet batch (payloads packed in one buffer).
struct udp_batch {
  struct item {
    net::endpoint dst; // where the application sent it
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  std::vector<uint8_t> bytes;
  std::vector<item> items;
};

/// A batch of captured packets from the divert-reader. The buffer belongs to
/// the platform port and is handed over whole, so messaging costs one
/// allocation-free pointer copy per batch, not per packet.
struct packet_batch_buffer;
struct packet_batch {
  std::shared_ptr<packet_batch_buffer> buffer;
};

} // namespace drover

// Local-only payloads: they carry pointers and never leave the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(drover::config_changed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(drover::packet_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(drover::udp_batch)
