#pragma once

// The machine's IPv4 interface addresses (GetAdaptersAddresses), and when
// they change: a target's LAN broadcasts are left to the LAN (the
// capture's filter, and its packet sorter for a network joined since).

#include <atomic>
#include <chrono>
#include <vector>

#include "net/capture_rules.hpp"

namespace drover::platform::windows_port {

/// The IPv4 unicast addresses of the adapters that are up, with their
/// on-link prefix (Windows sets no broadcast address of its own: the
/// subnet's is its highest); empty when they cannot be read.
std::vector<net::capture::interface_address> interface_addresses();

/// When to read the addresses again: Windows says an address came or went
/// or an interface went up or down (NotifyUnicastIpAddressChange,
/// NotifyIpInterfaceChange, on a thread of its own), and every `poll` in
/// case a change was not announced (wine announces none).
class address_changes {
public:
  explicit address_changes(std::chrono::seconds poll = std::chrono::seconds{5});
  ~address_changes();
  address_changes(const address_changes&) = delete;
  address_changes& operator=(const address_changes&) = delete;

  /// Whether they may have changed since the last call that said so, or
  /// since this was made (its maker reads them then).
  bool due(std::chrono::steady_clock::time_point now);

  /// Called by Windows' notifications.
  void heard() { heard_ = true; }

private:
  std::atomic<bool> heard_{false};
  void* address_handle_ = nullptr;   // HANDLE
  void* interface_handle_ = nullptr; // HANDLE
  std::chrono::seconds poll_;
  std::chrono::steady_clock::time_point last_
      = std::chrono::steady_clock::now();
};

} // namespace drover::platform::windows_port
