#pragma once

// One run of the engine's parts: the capture session and the actors that
// use it (divert-reader, flow-manager, procscan, the TCP listener), spawned
// together by one function and stopped together by the supervisor. The
// capture guard outlives them (actors/platform/capture.hpp).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "actors/platform/capture.hpp"
#include "actors/socks_session.hpp"
#include "config/settings.hpp"
#include "messages/interfaces.hpp"

namespace drover {

struct supervisor_ports;

struct engine_parts {
  std::shared_ptr<platform::capture_session> capture;
  flow_manager_actor flow_manager;
  divert_reader_actor reader;
  procscan_actor scanner;
  caf::actor listener;             // empty in tests without a listener
  upstream_settings upstream;      // the proxy, as the sessions use it
  std::vector<caf::actor_addr> up; // spawned and not yet down

  /// Every actor, for monitoring and stopping.
  std::vector<caf::actor> actors() const;
};

struct parts_result {
  engine_parts parts;
  failure_class failure = failure_class::none; // none: started
  std::string error;                           // a sentence for the user
};

/// Opens the guard's first session (capture, listener) and spawns the
/// parts for the proxy at `proxy_ip`. `sup` gets their health reports;
/// `session_gone` runs (on any thread) once the session is destroyed, when
/// the last part has let go of it.
parts_result spawn_engine_parts(caf::actor_system& sys,
                                const supervisor_ports& ports,
                                const config::settings& settings,
                                std::shared_ptr<platform::capture_guard> guard,
                                net::ipv4_address proxy_ip,
                                const supervisor_actor& sup,
                                std::function<void()> session_gone);

/// Opens the capture guard for `settings`' targets around `proxy_ip`.
platform::guard_result open_capture_guard(const supervisor_ports& ports,
                                          const config::settings& settings,
                                          net::ipv4_address proxy_ip);

/// What a new flow gets while the proxy cannot be used: the user's
/// `when_not_proxying` (refused by default).
new_flow_policy not_proxying_policy(const config::settings& settings);

} // namespace drover
