#pragma once

#include <memory>

#include <caf/io/broker.hpp>

#include "actors/platform/capture.hpp"
#include "actors/socks_session.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// One SOCKS5 UDP association for one application socket (`app`):
/// datagrams to any number of destinations share it. Owns the TCP control
/// connection (greeting, authentication, UDP ASSOCIATE) and a UDP socket to
/// the relay; encapsulates what the application sends (udp_batch), and
/// turns the relay's datagrams back into IPv4/UDP packets from the original
/// remote, injected towards the application. When the control connection
/// dies, a new association replaces it; datagrams meanwhile wait in a
/// bounded queue. Handles udp_batch and atom::stop. `injector` is lent by
/// the capture session's owner, which outlives this actor.
caf::behavior udp_association(caf::io::broker* self, net::endpoint app,
                              upstream_settings upstream,
                              platform::packet_injector* injector,
                              flow_manager_actor fm);

} // namespace drover
