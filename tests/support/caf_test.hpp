#pragma once

// An actor system for the actor tests: the engine's message types and
// CAF's deterministic test coordinator (nothing runs unless the test runs
// it; time moves only when the test moves it).

#include <caf/actor_system_config.hpp>

#include "messages/atoms.hpp"

namespace drover::test {

struct caf_test_config : caf::actor_system_config {
  caf_test_config() {
    drover::add_message_types(*this);
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
  }
};

} // namespace drover::test
