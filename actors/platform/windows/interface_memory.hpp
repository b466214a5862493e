#pragma once

// Which interface each local IPv4 address of the targets' packets was seen
// leaving by: a reply Drover fabricates for an application (a relayed UDP
// datagram, a refusal's reset) is injected inbound there, as if it had
// arrived on that interface (windivert-facts §5B). A few addresses: one per
// network the machine is on. Written by the port's receive thread (which
// reads without the lock: only it writes), read by injecting threads.

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace drover::platform::windivert {

class interface_memory {
public:
  struct interface_index {
    uint32_t if_idx = 0;
    uint32_t sub_if_idx = 0;
  };

  /// `ip` (host order) left by this interface; takes the lock only when
  /// the address is new or moved.
  void remember(uint32_t ip, interface_index at) {
    for (auto& e : entries_)
      if (e.ip == ip && e.at.if_idx == at.if_idx
          && e.at.sub_if_idx == at.sub_if_idx)
        return;
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& e : entries_)
      if (e.ip == ip) {
        e.at = at;
        return;
      }
    entries_[next_++ % entries_.size()] = {ip, at};
  }

  /// Where `ip` was seen; false when it was not.
  bool find(uint32_t ip, interface_index& at) const {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& e : entries_)
      if (e.ip == ip && ip != 0) {
        at = e.at;
        return true;
      }
    return false;
  }

private:
  struct entry {
    uint32_t ip = 0;
    interface_index at;
  };
  std::array<entry, 8> entries_{};
  size_t next_ = 0;
  mutable std::mutex mutex_;
};

} // namespace drover::platform::windivert
