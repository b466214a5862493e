#pragma once

// An actor system for the actor tests: the engine's message types and
// CAF's deterministic test coordinator (nothing runs unless the test runs
// it; time moves only when the test moves it).

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/atoms.hpp"

namespace drover::test {

struct caf_test_config : caf::actor_system_config {
  caf_test_config() {
    drover::add_message_types(*this);
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// The actor tests' fixture: the system above, its coordinator and a
/// scoped actor to talk to the actor under test. Nothing runs until the
/// test runs it (run(), advance(), ask()).
class caf_fixture : public ::testing::Test {
protected:
  caf_fixture()
      : sys(cfg),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys, true) {}

  /// Runs every message that is due.
  void run() { sched.run(); }

  /// Moves the clock and runs everything that became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  /// Asks `whom` and runs until the answer is in: the answer, or a default
  /// value and a test failure.
  template<class Answer, class Handle, class... Ts>
  Answer ask(const Handle& whom, Ts&&... xs) {
    Answer out{};
    auto pending = self->request(whom, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    pending.receive([&](Answer& a) { out = std::move(a); },
                    [&](const caf::error& e) {
                      ADD_FAILURE() << "no answer: " << sys.render(e);
                    });
    return out;
  }

  caf_test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
};

} // namespace drover::test
