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
void receive_loop(platform::packet_port& port, std::shared_ptr<batch_pool> pool,
                  flow_manager_actor sink, caf::actor self) {
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

divert_reader_state::~divert_reader_state() {
  {
    std::lock_guard<std::mutex> guard{pool->mutex};
    pool->stopping = true;
  }
  pool->available.notify_all();
  if (port)
    port->stop();
  if (receiver.joinable())
    receiver.join();
}

divert_reader_actor::behavior_type
divert_reader(divert_reader_actor::stateful_pointer<divert_reader_state> self,
              platform::packet_port* port, flow_manager_actor sink) {
  report_panics(self);
  auto lg = log::get(self->name());
  auto& st = self->state;
  st.port = port;
  for (size_t i = 0; i < divert_reader_batches; ++i)
    st.pool->free.push_back(port->new_batch());
  st.receiver = std::thread{receive_loop, std::ref(*port), st.pool, sink,
                            caf::actor_cast<caf::actor>(self)};
  lg->info("reading captured packets");
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
