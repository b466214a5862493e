#pragma once

// A health check of the upstream SOCKS5 proxy, step by step, each with its
// latency: TCP connect, greeting (and authentication), then optionally a
// CONNECT to a target, UDP ASSOCIATE, and a datagram's round trip through
// the UDP relay (a STUN Binding request, whose answer proves the path).
// Blocking, every part bounded by the budget; run it on a thread of its own
// (the supervisor uses a detached actor, `drover check` its main thread).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/packet.hpp"

namespace drover {

/// A host (name or IPv4 literal) and port to reach through the proxy. Names
/// are looked up here, as the applications Drover captures look them up:
/// Drover hands the proxy addresses, not names.
struct probe_target {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

struct probe_request {
  net::endpoint proxy;
  bool auth = false;
  std::string login;
  std::string password;
  bool udp_associate = true;
  std::optional<probe_target> connect_to; // CONNECT through the proxy
  std::optional<probe_target> stun;       // a STUN server, through the relay
  /// For each part: the handshake with UDP ASSOCIATE, the CONNECT, the
  /// UDP round trip.
  std::chrono::milliseconds budget{2000};
  /// Also try, on a connection of its own, whether the proxy reads a
  /// greeting and a request sent together (only without a login): the
  /// relay then saves a round trip on every connection.
  bool try_pipelining = false;
  /// An HTTP proxy (CONNECT), not SOCKS5: TCP only. Without `connect_to`
  /// the check CONNECTs to the proxy's own address, and any well-formed
  /// answer shows an HTTP proxy is there (407: the login).
  bool http = false;
};

struct probe_step {
  std::string name; // "TCP connect", "greeting", "authentication", ...
  bool ok = false;
  uint32_t micros = 0;
  std::string detail; // what went wrong, for a user
};

enum class probe_verdict : uint8_t {
  ok,
  unreachable,   // refused, timed out, closed: may heal by itself
  auth_rejected, // the proxy turned the credentials (or their absence) down
  not_socks5,    // something else answers at the proxy's address
  path_failed,   // the proxy works, but a target or its UDP relay does not
  tcp_only,      // the proxy works for TCP and refused UDP ASSOCIATE
};

struct probe_result {
  probe_verdict verdict = probe_verdict::unreachable;
  std::string reason; // the first failed step, for a user
  std::vector<probe_step> steps;
  /// The proxy answered a greeting and a request sent in one segment
  /// (try_pipelining). Not a step: a proxy that reads one message at a
  /// time works as well, one round trip slower.
  bool pipelining = false;
  /// The proxy answered UDP ASSOCIATE with a refusal, or closed the
  /// connection on it: a TCP-only proxy (microsocks, ssh -D). The verdict
  /// is tcp_only when nothing else failed.
  bool udp_refused = false;
  std::string udp_detail; // the refusal, for a user
};

/// Runs the steps in order. A failure of the proxy itself (connect,
/// greeting, authentication) ends the check; the CONNECT and the UDP steps
/// are tried independently of each other.
probe_result probe_proxy(const probe_request& request);

} // namespace drover
