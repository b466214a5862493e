#pragma once

// The two ways to hand a captured TCP connection to Drover's local listener,
// each with its return path, as pure functions over a packet and a flow.
//
// loopback (Linux NFQUEUE; Windows with a 127.0.0.1 listener):
//   app -> remote        becomes  peer_alias -> 127.0.0.1:listener (outbound)
//   127.0.0.1:listener -> peer_alias  becomes  remote -> app
// The listener sees `listener_peer` (an alias in 127.0.0.0/8 chosen by the
// flow table so that it is unique per flow) and maps it back to the flow.
//
// reflection (WinDivert's streamdump shape; listener bound to 0.0.0.0):
//   app -> remote        becomes  remote.ip:app.port -> app.ip:listener
//   (inbound) app.ip:listener -> remote.ip:app.port  becomes  remote -> app
//   (inbound)
//
// After the rewrite the packet's checksums are right (see packet.hpp).

#include "net/packet.hpp"

namespace drover::net {

enum class nat_shape : uint8_t { loopback, reflection };

/// Which way the platform port must inject a rewritten packet.
enum class inject_direction : uint8_t { outbound, inbound };

/// A redirected TCP flow's addresses.
struct nat_flow {
  endpoint app;           // the application's socket (original source)
  endpoint remote;        // where the application wanted to go
  endpoint listener_peer; // what the listener sees as the peer
};

struct listener_address {
  nat_shape shape = nat_shape::loopback;
  uint16_t port = 0;
  ipv4_address loopback_ip{0x7f000001}; // 127.0.0.1
};

/// The address the listener will see as the peer of `app -> remote`, for
/// the reflection shape (the loopback shape takes an alias from the table).
inline endpoint reflection_peer(endpoint app, endpoint remote) {
  return {remote.ip, app.port};
}

/// Rewrites the application's packet so that it reaches the listener.
inline inject_direction to_listener(packet_ref& p, const listener_address& l,
                                    const nat_flow& f) {
  if (l.shape == nat_shape::loopback) {
    set_source(p, f.listener_peer);
    set_destination(p, {l.loopback_ip, l.port});
    return inject_direction::outbound;
  }
  set_source(p, f.listener_peer);
  set_destination(p, {f.app.ip, l.port});
  return inject_direction::inbound;
}

/// Rewrites the listener's packet (to `listener_peer`) so the application
/// sees it come from the remote it connected to.
inline inject_direction from_listener(packet_ref& p, const listener_address& l,
                                      const nat_flow& f) {
  set_source(p, f.remote);
  set_destination(p, f.app);
  return l.shape == nat_shape::loopback ? inject_direction::outbound
                                        : inject_direction::inbound;
}

/// True if the packet was sent by the listener (its return path).
inline bool is_from_listener(const packet_info& info,
                             const listener_address& l) {
  return info.is_tcp() && info.src.port == l.port
         && (l.shape == nat_shape::reflection || info.src.ip == l.loopback_ip);
}

} // namespace drover::net
