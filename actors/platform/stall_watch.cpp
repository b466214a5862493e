#include "actors/platform/stall_watch.hpp"

namespace drover::platform {

stall_watch::stall_watch(std::chrono::milliseconds limit,
                         std::chrono::milliseconds check_every,
                         std::function<void()> on_stall)
    : limit_(limit), check_every_(check_every), on_stall_(std::move(on_stall)) {
  left_at_ = clock::now().time_since_epoch().count();
}

stall_watch::~stall_watch() {
  stop();
}

void stall_watch::start() {
  left();
  thread_ = std::thread{[this] {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!wake_.wait_for(lock, check_every_, [this] { return stopping_; }))
      if (due(clock::now())) {
        lock.unlock();
        on_stall_();
        lock.lock();
      }
  }};
}

void stall_watch::entered() {
  in_read_ = true;
}

void stall_watch::left() {
  left_at_ = clock::now().time_since_epoch().count();
  in_read_ = false;
}

bool stall_watch::due(clock::time_point now) {
  if (in_read_.load() || stalled_.load())
    return false;
  auto left_at = clock::time_point{clock::duration{left_at_.load()}};
  if (now - left_at < limit_)
    return false;
  stalled_ = true;
  return true;
}

void stall_watch::stop() {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

} // namespace drover::platform
