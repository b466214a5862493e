#pragma once

// A limit on how many times a second something may happen: the rate of the
// ICMP errors Drover answers refused datagrams with (RFC 1812 4.3.2.8, RFC
// 4443 2.4 (f)), on each OS's path. Pure: the caller gives the time.

#include <chrono>
#include <cstdint>

namespace drover::net {

class per_second_limit {
public:
  using clock = std::chrono::steady_clock;

  explicit per_second_limit(uint32_t per_second) : per_second_(per_second) {}

  /// Whether one more may happen at `now`. Each try counts, allowed or
  /// not, within fixed windows of a second: a sender that keeps trying is
  /// refused until the next window, without any cost growing.
  bool allow(clock::time_point now) {
    if (now - since_ >= std::chrono::seconds{1}) {
      since_ = now;
      count_ = 0;
    }
    if (count_ >= per_second_)
      return false;
    ++count_;
    return true;
  }

private:
  uint32_t per_second_;
  uint32_t count_ = 0;
  clock::time_point since_{};
};

} // namespace drover::net
