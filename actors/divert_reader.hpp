#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "actors/platform/capture.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// What the receive thread and the actor share: a fixed set of buffers, so
/// a slow flow-manager slows the reader (the kernel queue then holds the
/// packets) instead of growing memory.
struct batch_pool {
  std::mutex mutex;
  std::condition_variable available;
  std::deque<std::shared_ptr<packet_batch_buffer>> free;
  bool stopping = false;
};

struct divert_reader_state {
  static inline constexpr const char* name = "divert-reader";
  platform::packet_port* port = nullptr; // lent by the supervisor
  std::shared_ptr<batch_pool> pool = std::make_shared<batch_pool>();
  std::thread receiver;

  divert_reader_state() = default;
  divert_reader_state(const divert_reader_state&) = delete;
  divert_reader_state& operator=(const divert_reader_state&) = delete;
  /// Wakes and joins the receive thread. CAF 0.17.6 destroys an actor's
  /// state before it sends its down message, so the port's owner, hearing
  /// of this actor's end, knows the port is no longer in use.
  ~divert_reader_state();
};

/// How many batches may be in flight between reader and flow-manager.
constexpr size_t divert_reader_batches = 4;

/// Reads captured packets on its own thread and hands them to `sink` in
/// batches; quits with ec::driver_lost if the packet handle fails. `port`
/// is lent by the capture session's owner, which outlives this actor.
divert_reader_actor::behavior_type
divert_reader(divert_reader_actor::stateful_pointer<divert_reader_state> self,
              platform::packet_port* port, flow_manager_actor sink);

} // namespace drover
