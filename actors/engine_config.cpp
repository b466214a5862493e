#include "actors/engine_config.hpp"

#include <caf/io/middleman.hpp>

#include "messages/atoms.hpp"

namespace drover {

engine_config::engine_config() {
  load<caf::io::middleman>(); // brokers: the listener and socks-sessions
  drover::add_message_types(*this);
  set("scheduler.max-threads", 2);
  // CAF's own log stays off; the engine logs through spdlog.
  set("logger.verbosity", caf::atom("quiet"));
}

} // namespace drover
