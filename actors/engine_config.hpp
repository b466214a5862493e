#pragma once

#include <caf/actor_system_config.hpp>

namespace drover {

/// The actor system configuration every Drover process uses: the engine's
/// message types and error category registered, a small scheduler (the
/// packet path is single-threaded by design; two workers keep a blocked
/// handler from stalling the rest).
class engine_config : public caf::actor_system_config {
public:
  engine_config();
};

} // namespace drover
