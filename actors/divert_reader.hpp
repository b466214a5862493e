#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "actors/platform/capture.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// What the receive thread and the actor share: the thread itself and a
/// fixed set of buffers, so a slow flow-manager slows the reader (the
/// kernel queue then holds the packets) instead of growing memory. Outlives
/// the actor's state: the thread is joined when the actor has exited.
struct batch_pool {
  std::mutex mutex;
  std::condition_variable available;
  std::deque<std::shared_ptr<packet_batch_buffer>> free;
  bool stopping = false;
  std::thread receiver;
};

struct divert_reader_state {
  static inline constexpr const char* name = "divert-reader";
  std::shared_ptr<platform::capture_session> capture;
  std::shared_ptr<batch_pool> pool = std::make_shared<batch_pool>();
};

/// How many batches may be in flight between reader and flow-manager.
constexpr size_t divert_reader_batches = 4;

/// Reads captured packets on its own thread and hands them to `sink` in
/// batches; quits with ec::driver_lost if the packet handle fails.
divert_reader_actor::behavior_type
divert_reader(divert_reader_actor::stateful_pointer<divert_reader_state> self,
              std::shared_ptr<platform::capture_session> capture,
              flow_manager_actor sink);

} // namespace drover
