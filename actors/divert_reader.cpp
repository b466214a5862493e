#include "actors/divert_reader.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"

namespace drover {

namespace {

// The receive loop. It only waits, receives and sends messages: every
// decision about a packet is the flow-manager's.
void receive_loop(std::shared_ptr<platform::capture_session> capture,
                  std::shared_ptr<batch_pool> pool, flow_manager_actor sink,
                  caf::actor self) {
  auto& port = capture->port();
  for (;;) {
    std::shared_ptr<packet_batch_buffer> batch;
    {
      std::unique_lock<std::mutex> guard{pool->mutex};
      pool->available.wait(
          guard, [&] { return pool->stopping || !pool->free.empty(); });
      if (pool->stopping)
        return;
      batch = std::move(pool->free.front());
      pool->free.pop_front();
    }
    switch (port.receive(*batch)) {
      case platform::packet_port::receive_status::packets:
        caf::anon_send(sink, packet_batch{std::move(batch)});
        break;
      case platform::packet_port::receive_status::stopped:
        return;
      case platform::packet_port::receive_status::failed:
        caf::anon_send(self, atom::internal_v, port.last_error());
        return;
    }
  }
}

} // namespace

divert_reader_actor::behavior_type
divert_reader(divert_reader_actor::stateful_pointer<divert_reader_state> self,
              std::shared_ptr<platform::capture_session> capture,
              flow_manager_actor sink) {
  report_panics(self);
  auto lg = log::get(self->name());
  self->state.capture = capture;
  for (size_t i = 0; i < divert_reader_batches; ++i)
    self->state.pool->free.push_back(capture->port().new_batch());
  self->state.pool->receiver
      = std::thread{receive_loop, capture, self->state.pool, sink,
                    caf::actor_cast<caf::actor>(self)};
  // Runs on every exit: wake and join the thread before the port goes.
  self->attach_functor([pool = self->state.pool, capture] {
    {
      std::lock_guard<std::mutex> guard{pool->mutex};
      pool->stopping = true;
    }
    pool->available.notify_all();
    capture->port().stop();
    if (pool->receiver.joinable())
      pool->receiver.join();
  });
  lg->info("reading captured packets ({})", capture->description());
  return {
      [=](packet_batch& returned) {
        // A batch comes back from the flow-manager: reuse it.
        auto& pool = *self->state.pool;
        {
          std::lock_guard<std::mutex> guard{pool.mutex};
          pool.free.push_back(std::move(returned.buffer));
        }
        pool.available.notify_one();
      },
      [=](atom::stop) { self->quit(); },
      [=](atom::internal, const std::string& error) {
        // The receive thread lost the packet handle.
        lg->error("packet handle lost: {}", error);
        trace::record(self->name(), "driver_lost", {{"error", error}});
        self->quit(caf::make_error(ec::driver_lost, error));
      },
  };
}

} // namespace drover
