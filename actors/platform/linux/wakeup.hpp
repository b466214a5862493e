#pragma once

// An eventfd that another thread writes to wake a poll() up: how the
// blocking waits (file watch, power events) are stopped.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace drover::platform::linux_port {

class wakeup_event {
public:
  wakeup_event() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~wakeup_event() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  wakeup_event(const wakeup_event&) = delete;
  wakeup_event& operator=(const wakeup_event&) = delete;

  bool ok() const { return fd_ >= 0; }
  /// The descriptor to poll for POLLIN.
  int fd() const { return fd_; }
  /// Wakes every poll() on fd(); thread-safe.
  void signal() {
    if (fd_ < 0)
      return;
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }

private:
  int fd_;
};

} // namespace drover::platform::linux_port
