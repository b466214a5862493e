#pragma once

// A health check of the upstream SOCKS5 proxy, step by step, each with its
// latency: TCP connect, greeting (and authentication), then optionally
// UDP ASSOCIATE. Blocking, bounded by one overall deadline; run it on a
// thread of its own (the supervisor uses a detached actor).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/packet.hpp"

namespace drover::platform {

struct probe_request {
  net::endpoint proxy;
  bool auth = false;
  std::string login;
  std::string password;
  bool udp_associate = true;
  std::chrono::milliseconds budget{2000};
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
};

struct probe_result {
  probe_verdict verdict = probe_verdict::unreachable;
  std::string reason; // the first failed step, for a user
  std::vector<probe_step> steps;
};

/// Runs the steps in order and stops at the first failure.
probe_result probe_proxy(const probe_request& request);

} // namespace drover::platform
