// A panic's report (the crash report, the log, the Timeline) never carries
// a secret, not even a piece of one cut off where the message is shortened.

#include <string>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/log/redact.hpp"
#include "actors/panic.hpp"

using namespace drover;

TEST(panic, the_report_is_redacted_before_it_is_shortened) {
  const std::string secret = "hunter2-\"quoted\"-secret";
  log::set_secrets({secret});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto thrower = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    report_panics(self);
    return {[](const std::string& text) {
      throw std::runtime_error("cannot use " + text.substr(290));
    }};
  });
  caf::scoped_actor self{sys};
  self->monitor(thrower);
  // The secret straddles the point where the message is cut (300).
  self->send(thrower, std::string(290, 'x') + secret);
  panic_details details;
  self->receive([&](const caf::down_msg& m) { details = panic_of(m.reason); });
  EXPECT_FALSE(details.actor.empty()) << "a panic, reported";
  for (auto* text : {&details.what, &details.handling})
    for (auto piece : {"hunter2", "quoted", "secret"})
      EXPECT_EQ(text->find(piece), std::string::npos)
          << piece << " in " << *text;
  EXPECT_NE(details.what.find("***"), std::string::npos) << details.what;
  log::set_secrets({});
}

// What a user reads when a request to the engine fails: a sentence, never
// CAF's rendering ("drover: unspecified ((...))") when one is known.
TEST(panic, a_failed_request_reads_as_a_sentence) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  EXPECT_EQ(error_sentence(sys, caf::make_error(caf::sec::runtime_error,
                                                "the engine is not active")),
            "the engine is not active");
  EXPECT_EQ(error_sentence(sys, caf::make_error(caf::sec::request_timeout)),
            "it did not answer in time");
  EXPECT_EQ(
      error_sentence(sys, caf::make_error(caf::sec::request_receiver_down)),
      "it is not running");
  EXPECT_EQ(describe_exit(sys, caf::error{}), "it ended without an error");
}
