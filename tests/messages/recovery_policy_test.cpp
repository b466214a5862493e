// Every row of the E3 table and every backoff step, with a fake clock.

#include <gtest/gtest.h>

#include "messages/recovery_policy.hpp"

using namespace drover;
using namespace std::chrono_literals;

namespace {

struct policy_test : ::testing::Test {
  recovery_policy policy;
  recovery_policy::time_point now{};
};

} // namespace

TEST_F(policy_test, driver_lost_reopens_once_after_two_seconds) {
  auto d = policy.on_failure(failure_class::driver_lost, now);
  EXPECT_EQ(d.action, recovery_action::retry_once);
  EXPECT_EQ(d.state, engine_state::starting);
  EXPECT_EQ(d.delay, 2s);
  EXPECT_EQ(d.attempt, 1u);
}

TEST_F(policy_test, a_second_driver_loss_within_30_s_fails) {
  policy.on_failure(failure_class::driver_lost, now);
  auto d = policy.on_failure(failure_class::driver_lost, now + 29s);
  EXPECT_EQ(d.action, recovery_action::fail_stop);
  EXPECT_EQ(d.state, engine_state::failed);
  EXPECT_STRNE(d.gave_up, "");
}

TEST_F(policy_test, a_second_driver_loss_after_30_s_reopens_again) {
  policy.on_failure(failure_class::driver_lost, now);
  auto d = policy.on_failure(failure_class::driver_lost, now + 31s);
  EXPECT_EQ(d.action, recovery_action::retry_once);
  // ... and the window now starts at the second loss.
  d = policy.on_failure(failure_class::driver_lost, now + 40s);
  EXPECT_EQ(d.action, recovery_action::fail_stop);
}

TEST_F(policy_test, proxy_backoff_is_1_5_then_the_30_s_cap) {
  const std::chrono::milliseconds expected[] = {1s, 5s, 30s, 30s, 30s, 30s};
  auto t = now;
  for (uint32_t i = 0; i < 6; ++i) {
    auto d = policy.on_failure(failure_class::proxy_unreachable, t);
    EXPECT_EQ(d.action, recovery_action::exp_backoff);
    EXPECT_EQ(d.state, engine_state::reconnecting);
    EXPECT_EQ(d.attempt, i + 1);
    EXPECT_EQ(d.delay, expected[i]) << "attempt " << i + 1;
    t += d.delay;
  }
}

TEST_F(policy_test, proxy_unreachable_for_5_minutes_fails) {
  auto t = now;
  recovery_decision d;
  int retries = 0;
  for (; retries < 100; ++retries) {
    d = policy.on_failure(failure_class::proxy_unreachable, t);
    if (d.action != recovery_action::exp_backoff)
      break;
    t += d.delay;
  }
  EXPECT_EQ(d.action, recovery_action::fail_stop);
  EXPECT_EQ(d.state, engine_state::failed);
  EXPECT_GE(t - now, 5min);
  EXPECT_LT(t - now, 5min + 30s);
  // 1 + 5 = 6 s, then every 30 s until 300 s: 2 + 10 retries.
  EXPECT_EQ(retries, 12);
  EXPECT_EQ(d.attempt, 12u);
}

TEST_F(policy_test, reaching_active_ends_a_proxy_series) {
  policy.on_failure(failure_class::proxy_unreachable, now);
  policy.on_failure(failure_class::proxy_unreachable, now + 1s);
  policy.on_active();
  auto d = policy.on_failure(failure_class::proxy_unreachable, now + 4min);
  EXPECT_EQ(d.attempt, 1u);
  EXPECT_EQ(d.delay, 1s);
  // The 5 minutes count from the new series' start.
  d = policy.on_failure(failure_class::proxy_unreachable, now + 8min);
  EXPECT_EQ(d.action, recovery_action::exp_backoff);
}

TEST_F(policy_test, timings_come_from_the_config) {
  recovery_timing t;
  t.backoff_initial = 200ms;
  t.backoff_max = 2s;
  t.backoff_total = 10s;
  recovery_policy p{t};
  EXPECT_EQ(p.backoff_delay(1), 200ms);
  EXPECT_EQ(p.backoff_delay(2), 1s);
  EXPECT_EQ(p.backoff_delay(3), 2s);
  EXPECT_EQ(p.on_failure(failure_class::proxy_unreachable, now).delay, 200ms);
  EXPECT_EQ(p.on_failure(failure_class::proxy_unreachable, now + 10s).action,
            recovery_action::fail_stop);
}

TEST_F(policy_test, the_other_classes_fail_pause_or_resume_at_once) {
  struct row {
    failure_class c;
    recovery_action a;
    engine_state s;
  };
  for (auto r :
       {row{failure_class::driver_gone, recovery_action::fail_stop,
            engine_state::failed},
        row{failure_class::auth_rejected, recovery_action::fail_stop,
            engine_state::failed},
        row{failure_class::panic, recovery_action::fail_stop,
            engine_state::failed},
        row{failure_class::fatal, recovery_action::fail_stop,
            engine_state::failed},
        row{failure_class::sleep, recovery_action::pause, engine_state::paused},
        row{failure_class::resume, recovery_action::resume,
            engine_state::starting}}) {
    auto d = policy.on_failure(r.c, now);
    EXPECT_EQ(d.action, r.a) << to_string(r.c);
    EXPECT_EQ(d.state, r.s) << to_string(r.c);
    EXPECT_EQ(d.delay, 0ms) << to_string(r.c);
  }
}

TEST_F(policy_test, reset_forgets_a_recent_driver_loss) {
  policy.on_failure(failure_class::driver_lost, now);
  policy.reset();
  EXPECT_EQ(policy.on_failure(failure_class::driver_lost, now + 1s).action,
            recovery_action::retry_once);
}
