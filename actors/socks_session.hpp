#pragma once

#include <chrono>
#include <string>

#include <caf/actor.hpp>
#include <caf/io/broker.hpp>

#include "actors/platform/sockets.hpp"
#include "actors/platform/spare_pool.hpp"
#include "messages/interfaces.hpp"
#include "net/packet.hpp"

namespace drover {

/// What every TCP session needs to reach the proxy.
struct upstream_settings {
  net::endpoint proxy;
  bool auth = false;
  std::string login;
  std::string password;
  std::chrono::milliseconds connect_timeout{10000};
  /// A UDP association's whole set-up (connect, greeting, UDP ASSOCIATE's
  /// reply), `proxy.udp_associate_timeout`.
  std::chrono::milliseconds udp_associate_timeout{5000};
  /// `proxy.connect_by_name`: CONNECT by the host name the application's
  /// first bytes give (TLS SNI, HTTP Host), so the proxy resolves it.
  bool connect_by_name = true;
  /// `proxy.spare_connections`: the proxy connections kept greeted ahead
  /// of a burst (the kernel relay's, or the tcp-listener's for its
  /// sessions).
  unsigned spare_connections = 4;
  /// An HTTP proxy (CONNECT, TCP only), not SOCKS5.
  bool http = false;
  /// The supervisor's check saw the proxy read a greeting and a request
  /// sent together: without a login, both go in one segment (a round trip
  /// less a connection). Set by the tcp-listener, never from the config.
  bool pipelined = false;
  /// Hears when the proxy fails a session (the supervisor, which then
  /// checks the proxy); may be empty in tests.
  caf::actor health;
  /// Which proxy this is (its place in the config), for `health`.
  uint32_t proxy_index = 0;
};

/// One redirected TCP connection: connects to the proxy, greets,
/// authenticates, CONNECTs to the flow's original destination, then pumps
/// bytes both ways with back-pressure and half-close. Forked by the
/// tcp-listener with the accepted connection, and a `spare` connection to
/// the proxy, greeted already, when one was ready (null: it connects).
caf::behavior socks_session(caf::io::broker* self,
                            caf::io::connection_handle app, flow_lookup flow,
                            upstream_settings upstream, flow_manager_actor fm,
                            std::shared_ptr<platform::spare_connection> spare
                            = nullptr);

/// The listener on 127.0.0.1 (`fd`, already listening): every accepted
/// connection must be a flow the flow-manager redirected; others are closed
/// at once. Each goes to its flow's proxy among `upstreams` (in the
/// config's order; never empty), on one of its spare connections when the
/// burst it belongs to had one made (platform/spare_pool.hpp).
caf::behavior tcp_listener(caf::io::broker* self, platform::socket_handle fd,
                           flow_manager_actor fm,
                           std::vector<upstream_settings> upstreams);

} // namespace drover
