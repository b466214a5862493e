#pragma once

// Sockets a target already had when it became a target (it ran before
// Start, or before its name was added): the kernel marks only sockets made
// from then on. These are taken over here: each gets the target mark, so
// its next packet is captured, and a connected TCP socket is aborted
// (SOCK_DESTROY), so the application notices at once and connects again,
// through the proxy, instead of talking direct on a connection it keeps.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

struct adopted_sockets {
  uint32_t marked = 0; // IPv4/IPv6 sockets given the target mark
  uint32_t reset = 0;  // connected TCP sockets aborted
  bool gone = false;   // the process meant ended, or another has its ID
};

/// Takes over the sockets process `pid` has open now (needs root: the
/// descriptors are borrowed with pidfd_getfd). Connections to loopback or
/// to a destination in `skip` are marked but kept (they are never
/// captured). `started`: when the process meant started (its stat line's
/// start time, as a scan saw it; 0: not checked): a process that has
/// taken its ID since is left alone. `error` says what could not be done,
/// for the log.
adopted_sockets adopt_sockets(pid_t pid, uint64_t started, uint32_t mark,
                              const net::capture::exclusions& skip,
                              std::string& error);

} // namespace drover::platform::linux_port
