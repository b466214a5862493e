#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/engine_config.hpp"
#include "messages/interfaces.hpp"
#include "messages/recovery.hpp"

using namespace drover;

// Every row of the E3 table (seed §"E3 recovery rules").
TEST(recovery_table, failure_classes_map_to_their_actions) {
  EXPECT_EQ(action_for(failure_class::driver_lost),
            recovery_action::retry_once);
  EXPECT_EQ(action_for(failure_class::driver_gone), recovery_action::fail_stop);
  EXPECT_EQ(action_for(failure_class::proxy_unreachable),
            recovery_action::exp_backoff);
  EXPECT_EQ(action_for(failure_class::auth_rejected),
            recovery_action::fail_stop);
  EXPECT_EQ(action_for(failure_class::panic), recovery_action::fail_stop);
  EXPECT_EQ(action_for(failure_class::sleep), recovery_action::pause);
  EXPECT_EQ(action_for(failure_class::resume), recovery_action::resume);
  EXPECT_EQ(action_for(failure_class::fatal), recovery_action::fail_stop);
  EXPECT_EQ(action_for(failure_class::none), recovery_action::none);
}

TEST(recovery_table, error_codes_map_to_failure_classes) {
  EXPECT_EQ(classify(ec::none), failure_class::none);
  EXPECT_EQ(classify(ec::driver_lost), failure_class::driver_lost);
  for (auto c : {ec::driver_gone, ec::driver_blocked, ec::driver_outdated})
    EXPECT_EQ(classify(c), failure_class::driver_gone) << to_string(c);
  EXPECT_EQ(classify(ec::proxy_unreachable), failure_class::proxy_unreachable);
  EXPECT_EQ(classify(ec::proxy_auth_rejected), failure_class::auth_rejected);
  EXPECT_EQ(classify(ec::panic), failure_class::panic);
  EXPECT_EQ(classify(ec::system_sleep), failure_class::sleep);
  EXPECT_EQ(classify(ec::system_resume), failure_class::resume);
  for (auto c : {ec::unspecified, ec::config_invalid, ec::config_unreadable,
                 ec::not_permitted, ec::proxy_protocol})
    EXPECT_EQ(classify(c), failure_class::fatal) << to_string(c);
}

TEST(recovery_table, caf_exit_reasons_are_classified) {
  EXPECT_EQ(classify(caf::error{}), failure_class::none);
  EXPECT_EQ(classify(caf::make_error(ec::driver_lost)),
            failure_class::driver_lost);
  EXPECT_EQ(classify(caf::make_error(ec::proxy_unreachable, "timeout")),
            failure_class::proxy_unreachable);
  // An exception escaping a handler becomes sec::runtime_error.
  EXPECT_EQ(classify(caf::make_error(caf::sec::runtime_error)),
            failure_class::panic);
  EXPECT_EQ(classify(caf::make_error(caf::exit_reason::normal)),
            failure_class::none);
  EXPECT_EQ(classify(caf::make_error(caf::exit_reason::user_shutdown)),
            failure_class::none);
  EXPECT_EQ(classify(caf::make_error(caf::exit_reason::kill)),
            failure_class::fatal);
  EXPECT_EQ(classify(caf::make_error(caf::sec::request_timeout)),
            failure_class::fatal);
}

TEST(messages, payloads_travel_between_actors_and_print) {
  engine_config cfg;
  caf::actor_system sys{cfg};
  // A listener that echoes each event back to whoever sent it.
  auto echo = sys.spawn([](engine_listener_actor::pointer self)
                            -> engine_listener_actor::behavior_type {
    return {
        [=](const engine_event& e) {
          caf::anon_send(caf::actor_cast<caf::actor>(self->current_sender()),
                         e);
        },
        [=](const stats_snapshot&) {},
    };
  });
  caf::scoped_actor self{sys};
  engine_event e;
  e.kind = event_kind::reconnect_attempt;
  e.state = engine_state::reconnecting;
  e.reason = "proxy 10.0.0.1:1080 refused the connection";
  e.failure = failure_class::proxy_unreachable;
  e.attempt = 3;
  self->send(echo, e);
  self->receive([&](const engine_event& back) {
    EXPECT_EQ(back.state, engine_state::reconnecting);
    EXPECT_EQ(back.reason, e.reason);
    EXPECT_EQ(back.attempt, 3u);
    EXPECT_EQ(back.failure, failure_class::proxy_unreachable);
  });
  auto text = caf::to_string(caf::make_message(e));
  EXPECT_NE(text.find("reconnecting"), std::string::npos) << text;
  EXPECT_NE(text.find("proxy_unreachable"), std::string::npos) << text;
  self->send_exit(echo, caf::exit_reason::user_shutdown);
}

TEST(messages, errors_render_with_the_drover_category) {
  engine_config cfg;
  caf::actor_system sys{cfg};
  auto text = sys.render(caf::make_error(ec::driver_gone));
  EXPECT_NE(text.find("drover"), std::string::npos) << text;
  EXPECT_NE(text.find("driver_gone"), std::string::npos) << text;
}
