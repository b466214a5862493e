// A delay line for bench_engine: every packet the kernel queues to NFQUEUE
// QUEUE goes on DELAY_MS after it arrived, in the order it came. This
// machine's kernel has no sch_netem, and the bench wants a proxy a real
// network away (a rule in the bench's own namespace queues the proxy's
// packets here: each exchange with it then takes DELAY_MS more, its TCP
// handshake included).
//
//   bench_delay_line QUEUE DELAY_MS   prints "ready"; ends on SIGTERM/SIGINT

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/platform/linux/nfqueue.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
namespace platform = drover::platform;

struct held_packet {
  uint32_t id;
  clock_type::time_point due;
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_delay_line QUEUE DELAY_MS\n");
    return 2;
  }
  auto queue = static_cast<uint16_t>(std::atoi(argv[1]));
  std::chrono::milliseconds delay{std::atoi(argv[2])};
  // The signals go to the thread that waits for them, not to the others.
  sigset_t ending;
  sigemptyset(&ending);
  sigaddset(&ending, SIGTERM);
  sigaddset(&ending, SIGINT);
  pthread_sigmask(SIG_BLOCK, &ending, nullptr);

  std::string error;
  auto port = platform::linux_port::open_nfqueue(queue, {}, error);
  if (!port) {
    std::fprintf(stderr, "bench_delay_line: %s\n", error.c_str());
    return 1;
  }
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<held_packet> held;
  bool stopping = false;

  std::thread reader{[&] {
    auto batch = port->new_batch();
    while (port->receive(*batch)
           == platform::packet_port::receive_status::packets) {
      auto due = clock_type::now() + delay;
      std::lock_guard<std::mutex> lock{mutex};
      for (auto& p : batch->packets)
        held.push_back({p.id, due});
      arrived.notify_one();
    }
    std::lock_guard<std::mutex> lock{mutex};
    stopping = true;
    arrived.notify_one();
  }};
  std::thread signals{[&] {
    int which = 0;
    sigwait(&ending, &which);
    port->stop();
  }};
  signals.detach(); // a failed queue ends the program without a signal
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<platform::verdict> due_now;
  std::unique_lock<std::mutex> lock{mutex};
  for (;;) {
    arrived.wait(lock, [&] { return stopping || !held.empty(); });
    if (stopping)
      break;
    auto until = held.front().due;
    if (clock_type::now() < until) {
      // A packet that arrives meanwhile is due later: nothing to re-check.
      arrived.wait_until(lock, until, [&] { return stopping; });
      continue;
    }
    auto now = clock_type::now();
    due_now.clear();
    while (!held.empty() && held.front().due <= now) {
      due_now.push_back({held.front().id, platform::verdict_kind::accept});
      held.pop_front();
    }
    lock.unlock();
    if (auto ec = port->send_verdicts(due_now.data(), due_now.size())) {
      // The queue holds them for ever: the bench's rounds would only stall.
      std::fprintf(stderr, "delay line: cannot let %zu packets through: %s\n",
                   due_now.size(), ec.message().c_str());
      port->stop();
      reader.join();
      return 1;
    }
    lock.lock();
  }
  lock.unlock();
  reader.join();
  // Whatever is still held goes on at once: the bench is ending.
  due_now.clear();
  for (auto& p : held)
    due_now.push_back({p.id, platform::verdict_kind::accept});
  if (auto ec = port->send_verdicts(due_now.data(), due_now.size())) {
    std::fprintf(stderr, "delay line: cannot let %zu packets through: %s\n",
                 due_now.size(), ec.message().c_str());
    return 1;
  }
  return 0;
}
