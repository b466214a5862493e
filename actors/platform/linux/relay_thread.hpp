#pragma once

// A relay thread (relay_worker, datagram_worker) and what other threads
// tell it: end one flow, end them all, stop. Queued under a mutex; an
// eventfd in the thread's epoll set wakes it, and it takes everything at
// once.

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace drover::platform::linux_port {

class relay_mailbox {
public:
  relay_mailbox() = default;
  ~relay_mailbox() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  relay_mailbox(const relay_mailbox&) = delete;
  relay_mailbox& operator=(const relay_mailbox&) = delete;

  bool open() {
    fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd_ >= 0;
  }
  /// Readable when something was posted.
  int fd() const { return fd_; }

  void close(uint64_t id) {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      closing_.push_back(id);
    }
    wake();
  }
  void close_all() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      closing_all_ = true;
    }
    wake();
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      stopping_ = true;
    }
    wake();
  }

  struct posted {
    std::vector<uint64_t> ids;
    bool all = false;
    bool stop = false;
  };
  /// On the relay's thread, when fd() is readable.
  posted take() {
    uint64_t count = 0;
    (void)!::read(fd_, &count, sizeof count);
    posted p;
    std::lock_guard<std::mutex> lock{mutex_};
    p.ids.swap(closing_);
    p.all = closing_all_;
    closing_all_ = false;
    p.stop = stopping_;
    return p;
  }

private:
  void wake() {
    uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof one);
  }

  int fd_ = -1;
  std::mutex mutex_; // guards what follows
  std::vector<uint64_t> closing_;
  bool closing_all_ = false;
  bool stopping_ = false;
};

/// The thread and its mailbox; run() is the thread's loop. Whoever owns a
/// relay thread stops it before destroying it.
class relay_thread {
public:
  virtual ~relay_thread() = default;
  /// `name` (at most 15 characters) shows in top, perf and gdb.
  void start(std::string name) {
    thread_ = std::thread{[this, name = std::move(name)] {
      ::pthread_setname_np(::pthread_self(), name.c_str());
      run();
    }};
  }
  void stop() {
    mailbox_.stop();
    if (thread_.joinable())
      thread_.join();
  }
  void close(uint64_t id) { mailbox_.close(id); }
  void close_all() { mailbox_.close_all(); }

protected:
  virtual void run() = 0;
  relay_mailbox mailbox_;

private:
  std::thread thread_;
};

} // namespace drover::platform::linux_port
