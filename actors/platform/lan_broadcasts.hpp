#pragma once

// The subnets' broadcast addresses, as Windows' capture keeps them while
// it runs: the guard publishes what it read of the interfaces (at the
// capture's opening, and again when the networks change), and WinDivert's
// receive thread lets a target's datagram to one of them go out to the
// LAN (LAN discovery is the LAN's, not the proxy's). The filter already
// leaves out the ones known when the capture opened; a network joined
// since is caught here. The receive thread reads a copy only when the
// list changed (target_set's way). Plain C++, so it is unit-tested on any
// system.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "net/capture_rules.hpp"

namespace drover::platform {

class lan_broadcasts {
public:
  /// The list now (any order); whether it differs from the one before.
  bool publish(const std::vector<net::ipv4_address>& now);
  std::vector<net::ipv4_address> current() const;
  /// Copies the list into `copy` (sorted) when it changed since `seen`.
  void refresh(std::vector<uint32_t>& copy, uint64_t& seen) const;

private:
  mutable std::mutex mutex_;
  std::vector<uint32_t> sorted_;
  std::atomic<uint64_t> generation_{0};
};

/// The receive thread's copy of a lan_broadcasts.
class lan_broadcasts_view {
public:
  void watch(const lan_broadcasts* list) { list_ = list; }
  /// Whether `address` (host order) is one of them now.
  bool contains(uint32_t address);

private:
  const lan_broadcasts* list_ = nullptr;
  std::vector<uint32_t> sorted_;
  uint64_t seen_ = ~uint64_t{0};
};

} // namespace drover::platform
