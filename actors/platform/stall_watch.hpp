#pragma once

// A watch on a reading thread that must never stop reading for long: the
// Windows packet reader, whose stall would hold up every program's
// outbound traffic in the driver's queue. When the reader stays out of its
// read for longer than `limit`, `on_stall` runs once, on the watch's own
// thread (WinDivert: the handle stops diverting, the port fails, and the
// engine reopens it). Plain C++; the decision (`due`) is tested with
// explicit times.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace drover::platform {

class stall_watch {
public:
  using clock = std::chrono::steady_clock;

  stall_watch(std::chrono::milliseconds limit,
              std::chrono::milliseconds check_every,
              std::function<void()> on_stall);
  ~stall_watch();

  stall_watch(const stall_watch&) = delete;
  stall_watch& operator=(const stall_watch&) = delete;

  /// Starts the watch's thread (the reader is out of its read from now).
  void start();
  /// The reader enters its read / leaves it.
  void entered();
  void left();
  /// The reader stalled (on_stall ran or is running).
  bool stalled() const { return stalled_.load(); }
  /// Ends the watch's thread (idempotent).
  void stop();

  /// Whether the stall is due at `now`; true once.
  bool due(clock::time_point now);

private:
  std::chrono::milliseconds limit_;
  std::chrono::milliseconds check_every_;
  std::function<void()> on_stall_;
  std::atomic<bool> in_read_{false};
  std::atomic<clock::rep> left_at_{0};
  std::atomic<bool> stalled_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace drover::platform
