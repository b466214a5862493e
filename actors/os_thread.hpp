#pragma once

#include <functional>
#include <thread>

namespace drover {

/// A thread that blocks in an OS call for an actor (a file watch, the power
/// notifications), owned by the actor's state: `stop` wakes the call, and
/// the destructor stops and joins it, so the thread never outlives the
/// actor's state.
struct os_thread {
  std::function<void()> stop;
  std::thread thread;

  os_thread() = default;
  os_thread(os_thread&&) = default;
  os_thread& operator=(os_thread&&) = default;
  ~os_thread() {
    if (stop)
      stop();
    if (thread.joinable())
      thread.join();
  }
};

} // namespace drover
