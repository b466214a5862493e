#include "actors/engine_config.hpp"

#include <caf/io/middleman.hpp>

#include "messages/atoms.hpp"

namespace drover {

engine_config::engine_config() {
  load<caf::io::middleman>(); // brokers: the listener and socks-sessions
  drover::add_message_types(*this);
  set("scheduler.max-threads", 2);
  // Work sharing: an idle worker sleeps on a condition variable. CAF's
  // default, work stealing, polls with 50 µs sleeps for a while after
  // every message (its "moderate" phase): with the relay's news and the
  // counters coming all the time, that kept both workers waking 20,000
  // times a second, taking the cores the relay, the proxy and the
  // applications need (connections per second and UDP round trips
  // suffered, and an idle engine used CPU). The engine's actors see
  // batches, not packets: a shared queue is plenty.
  set("scheduler.policy", caf::atom("sharing"));
  // CAF's own log stays off; the engine logs through spdlog.
  set("logger.verbosity", caf::atom("quiet"));
}

} // namespace drover
