#pragma once

// Waits, bounded, for a state no event announces to the test: a kernel
// counter, another process's output, a window that X does not report.
// Polls `done` every `step` until it holds or `limit` has passed; true when
// it held. Where an event can be awaited (a future, a message, a process
// exit), await that instead.

#include <chrono>
#include <thread>

namespace drover::test {

template<class Predicate>
bool eventually(Predicate&& done, std::chrono::milliseconds limit,
                std::chrono::milliseconds step
                = std::chrono::milliseconds{10}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(step);
  }
}

} // namespace drover::test
