#pragma once

// Which interface each local address (IPv4 or IPv6) of the targets'
// packets was seen leaving by: a reply Drover fabricates for an
// application (a relayed UDP datagram, a refusal's reset) is injected
// inbound there, as if it had arrived on that interface (windivert-facts
// §5B). A few addresses per network the machine is on. Written by the
// port's receive thread (which reads without the lock: only it writes),
// read by injecting threads.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace drover::platform::windivert {

class interface_memory {
public:
  struct interface_index {
    uint32_t if_idx = 0;
    uint32_t sub_if_idx = 0;
  };

  /// A local address as it stands in a packet: IPv4 as ::ffff:a.b.c.d.
  using address = std::array<uint8_t, 16>;

  /// The source (`source` true) or destination address of an IPv4 or IPv6
  /// packet; false when `length` is too short for its header.
  static bool address_of(const uint8_t* packet, size_t length, bool source,
                         address& out) {
    out = {};
    if (length >= 20 && (packet[0] >> 4) == 4) {
      out[10] = out[11] = 0xff;
      std::memcpy(out.data() + 12, packet + (source ? 12 : 16), 4);
      return true;
    }
    if (length >= 40 && (packet[0] >> 4) == 6) {
      std::memcpy(out.data(), packet + (source ? 8 : 24), 16);
      return true;
    }
    return false;
  }

  /// `ip` left by this interface; takes the lock only when the address is
  /// new or moved.
  void remember(const address& ip, interface_index at) {
    for (auto& e : entries_)
      if (e.used && e.ip == ip && e.at.if_idx == at.if_idx
          && e.at.sub_if_idx == at.sub_if_idx)
        return;
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& e : entries_)
      if (e.used && e.ip == ip) {
        e.at = at;
        return;
      }
    entries_[next_++ % entries_.size()] = {ip, at, true};
  }

  /// Where `ip` was seen; false when it was not.
  bool find(const address& ip, interface_index& at) const {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& e : entries_)
      if (e.used && e.ip == ip) {
        at = e.at;
        return true;
      }
    return false;
  }

private:
  struct entry {
    address ip{};
    interface_index at;
    bool used = false;
  };
  // One IPv4 and a few IPv6 addresses (temporary ones change daily) per
  // network the machine is on.
  std::array<entry, 16> entries_{};
  size_t next_ = 0;
  mutable std::mutex mutex_;
};

} // namespace drover::platform::windivert
