#pragma once

// WinDivert addresses as the driver fills them in, for the tests that
// script the Windows packet port: an outbound packet's, and a SOCKET
// layer event's.

#include <cstdint>

#include "actors/platform/windivert_abi.hpp"
#include "net/packet.hpp"

namespace drover::test {

namespace wd = drover::platform::windivert;

/// An outbound NETWORK packet's address (checksums valid, interface 7).
inline wd::address outbound_address() {
  wd::address a{};
  a.layer = wd::layer_network;
  a.outbound = 1;
  a.ip_checksum = 1;
  a.tcp_checksum = 1;
  a.network.if_idx = 7;
  return a;
}

/// A SOCKET layer event `e` of process `pid` on local port `local_port`
/// (IPv4, as the driver maps it; `protocol` TCP unless told).
inline wd::address socket_event(wd::event e, uint32_t pid, uint16_t local_port,
                                uint8_t protocol = net::proto_tcp) {
  wd::address a{};
  a.layer = wd::layer_socket;
  a.event = e;
  a.outbound = 1;
  a.flow.process_id = pid;
  a.flow.protocol = protocol;
  a.flow.local_port = local_port;
  a.flow.local_addr[1] = 0xFFFF;
  return a;
}

} // namespace drover::test
