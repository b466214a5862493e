#pragma once

// This network namespace's IPv4 interface addresses, and the kernel's word
// when they change: the fence lets a target's LAN broadcasts out, and the
// subnets' broadcast addresses follow the networks the machine is on
// (DHCP, another Wi-Fi, a cable plugged in).

#include <vector>

#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

/// The IPv4 addresses of the interfaces that are up (getifaddrs); empty
/// when they cannot be read.
std::vector<net::capture::interface_address> interface_addresses();

/// Hears the kernel announce IPv4 addresses added or removed, and
/// interfaces going up or down (RTNLGRP_IPV4_IFADDR, RTNLGRP_LINK).
class address_changes {
public:
  address_changes();
  ~address_changes();
  address_changes(const address_changes&) = delete;
  address_changes& operator=(const address_changes&) = delete;

  /// True if anything changed since the last call, or might have (lost
  /// announcements, or no subscription: then every call). Never blocks.
  bool changed();

private:
  int fd_ = -1;
};

} // namespace drover::platform::linux_port
