#pragma once

// One run of the engine's parts: the actors that use the capture session
// (divert-reader, flow-manager, procscan) and the TCP listener, spawned
// together by one function and stopped together by the supervisor, which
// owns the session and lends it to them (actors/session_keeper.hpp). The
// capture guard outlives them (actors/platform/capture.hpp).

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/local_actor.hpp>

#include "actors/platform/capture.hpp"
#include "actors/socks_session.hpp"
#include "config/settings.hpp"
#include "messages/engine_machine.hpp"
#include "messages/interfaces.hpp"

namespace drover {

struct supervisor_ports;

struct engine_parts {
  flow_manager_actor flow_manager;
  divert_reader_actor reader;
  procscan_actor scanner;
  caf::actor listener; // empty in tests without a listener
  /// When the kernel redirects: one relay per proxy (the first is also
  /// the listener).
  std::vector<kernel_relay_actor> relays;
  /// Each proxy as the sessions use it, in the config's order.
  std::vector<upstream_settings> upstreams;
  std::vector<caf::actor_addr> up; // spawned and not yet down

  /// Every actor, for monitoring and stopping.
  std::vector<caf::actor> actors() const;
};

struct parts_result {
  engine_parts parts;
  std::unique_ptr<platform::capture_session> session; // lent to the parts
  failure_class failure = failure_class::none;        // none: started
  std::string error;                                  // a sentence for the user
};

/// Opens a capture session under the guard, and the listener, and spawns
/// the parts for the proxy at `proxy_ip`, lending them the session, which
/// the caller keeps until they are down. `sup` gets their health reports
/// and hears of every actor the session is lent on to.
parts_result spawn_engine_parts(caf::actor_system& sys,
                                const supervisor_ports& ports,
                                const config::settings& settings,
                                std::shared_ptr<platform::capture_guard> guard,
                                const std::vector<net::ipv4_address>& proxy_ips,
                                const supervisor_actor& sup);

struct guard_result {
  std::shared_ptr<platform::capture_guard> guard;
  failure_class failure = failure_class::none; // none: in place
  std::string error;                           // a sentence for the user
};

/// Opens the capture guard for `settings`' targets around the proxies at
/// `proxy_ips` (in the config's order).
guard_result
open_capture_guard(const supervisor_ports& ports,
                   const config::settings& settings,
                   const std::vector<net::ipv4_address>& proxy_ips);

/// The capture guard and its watchdog: opened by the first start, kept
/// across every restart of the parts, released only by Stop or Quit.
struct guard_hold {
  std::shared_ptr<platform::capture_guard> guard;
  guard_watch_actor watchdog;

  /// Opens the guard (unless it holds already) and starts its watchdog,
  /// monitored by `self`. The failure, if it could not.
  guard_result open(caf::local_actor* self, const supervisor_actor& parent,
                    const supervisor_ports& ports,
                    const config::settings& settings,
                    const std::vector<net::ipv4_address>& proxy_ips);
  /// Starts the watchdog (again), monitored by `self`.
  void watch(caf::local_actor* self, const supervisor_actor& parent,
             const supervisor_ports& ports);
  /// Stop or Quit: the watchdog ends and the targets are let go. What the
  /// OS refused to take away, or empty.
  std::string release(caf::local_actor* self);
  /// What the guard itself stopped or reset, into `s`.
  void add_counters(stats_snapshot& s) const;
};

/// Monitors each part from `self` and lists it in `parts.up`.
void watch_parts(caf::local_actor* self, engine_parts& parts);

/// New [targets] in force: the guard captures the new names, procscan
/// looks for them, and each proxy that cannot be used now (`up[i]` false;
/// none while Paused) gets its programs' new fallback.
void apply_targets(const engine_parts& parts, platform::capture_guard* guard,
                   const config::settings& settings, engine_state shown,
                   const std::vector<bool>& up);

/// Starts `argv` as a target of the running session (`drover run`),
/// through proxy `proxy`. Returns its process ID, or -1 with `error` set.
long start_target(platform::capture_session* session,
                  const std::vector<std::string>& argv, uint32_t proxy,
                  std::string& error);

/// The proxy as the sessions and associations use it (`[proxy]` at the
/// address `proxy_ip`); no health listener yet.
upstream_settings upstream_of(const config::proxy_settings& proxy,
                              net::ipv4_address proxy_ip);

/// The reconnect timing `[engine]` asks for.
recovery_timing timing_of(const config::engine_settings& e);

/// What a config change means to the engine machine.
config_change config_change_of(const config_changed& c,
                               const config::settings& now_in_force);

/// What a new flow gets while the proxy cannot be used: the user's
/// `when_not_proxying` (refused by default); of proxy number `proxy`'s
/// targets.
new_flow_policy not_proxying_policy(const config::settings& settings,
                                    size_t proxy = 0);

/// The proxies' refs for the engine machine's sentences.
std::vector<proxy_ref> proxy_refs(const config::settings& settings);

/// Where the first proxy's name points and where the others' do: its own
/// 0 when a name cannot be found now (said in `warnings`).
template<class Resolve>
std::vector<net::ipv4_address>
resolve_proxies(const config::settings& s, Resolve&& resolve,
                std::vector<std::string>& warnings) {
  std::vector<net::ipv4_address> out;
  for (auto& p : s.proxies) {
    std::string error;
    auto ip = resolve(p.host, error);
    if (!ip)
      warnings.push_back("cannot find the proxy " + config::proxy_label(p)
                         + ": " + error);
    out.push_back(ip ? *ip : net::ipv4_address{0});
  }
  return out;
}

} // namespace drover
