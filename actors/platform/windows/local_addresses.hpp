#pragma once

// The machine's IPv4 interface addresses (GetAdaptersAddresses): the
// capture's filter leaves a target's LAN broadcasts alone.

#include <vector>

#include "net/capture_rules.hpp"

namespace drover::platform::windows_port {

/// The IPv4 unicast addresses of the adapters that are up, with their
/// on-link prefix (Windows sets no broadcast address of its own: the
/// subnet's is its highest); empty when they cannot be read.
std::vector<net::capture::interface_address> interface_addresses();

} // namespace drover::platform::windows_port
