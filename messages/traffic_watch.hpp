#pragma once

// "Active (no traffic)": the engine is Active, a target runs, and no byte
// went through the proxy for `engine.no_traffic_warn_after`. Said once, and
// once more when traffic is back; the state stays Active (the proxy answers
// its checks). Pure: the supervisor feeds it a heartbeat's counters.

#include <chrono>
#include <cstdint>
#include <string>

namespace drover {

class traffic_watch {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// The engine became Active: quiet time counts from now.
  void on_active(time_point now);

  /// A heartbeat: `bytes` moved so far in this session. Returns what to
  /// tell the listeners, or an empty string.
  std::string on_heartbeat(bool active, uint64_t bytes, bool targets_running,
                           time_point now, std::chrono::milliseconds quiet);

  /// What `status` shows: no traffic although a target runs.
  bool no_traffic() const { return no_traffic_; }

private:
  uint64_t last_bytes_ = 0;
  time_point last_traffic_{};
  bool no_traffic_ = false;
};

} // namespace drover
