// Sleep and wake, end to end: a D-Bus daemon of the test's own (never the
// machine's system bus) with a stand-in logind (fake_logind.cpp) that
// emits PrepareForSleep, and the real engine following it.

#include "tests/e2e/sessions_lab.hpp"
#include "tests/e2e/test_bus.hpp"
#include "tests/e2e/world.hpp"

using namespace drover::e2e;

TEST_F(engine_e2e, sleep_pauses_keeping_the_capture_and_wake_resumes) {
  if (!drover::test::have_command("dbus-daemon"))
    GTEST_SKIP() << "needs dbus-daemon";
  fake_logind sleeper{w->dir};
  ASSERT_EQ(sleeper.start_problem(), "");
  auto& logind = *sleeper.logind;
  w->extra_env.push_back(sleeper.env);

  fs::path named;
  auto engine = w->headless_with_target("e2e-sleep-target", named);
  auto events = w->follow_events();
  ASSERT_TRUE(events);
  // Awake, Drover holds a delay lock so it can pause before the sleep.
  ASSERT_TRUE(
      logind.wait_for_output("inhibitor taken: sleep Drover delay", 10s))
      << logind.output() << engine->output();
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();

  logind.write_line("sleep");
  ASSERT_TRUE(events->wait_for_output(became("paused"), 10s))
      << events->output();
  EXPECT_NE(events->output().find(with_failure("sleep")), std::string::npos);
  // Paused, then the lock is let go: the machine may sleep now.
  ASSERT_TRUE(logind.wait_for_output("inhibitor released", 10s))
      << logind.output() << engine->output();
  // Fail closed while asleep: the capture stays, and whatever a target
  // sends meanwhile is dropped, never sent direct (a wake on another
  // network must not let it out either).
  EXPECT_NE(w->rules().find("-A OUTPUT -j DROVER"), std::string::npos)
      << w->rules();
  auto [code, text] = w->status(false);
  EXPECT_NE(text.find("State:    Paused"), std::string::npos) << text;

  auto mark = events->output().size();
  auto lock_mark = logind.output().size();
  logind.write_line("wake");
  ASSERT_TRUE(events->wait_for_output(with_failure("resume"), 10s, mark))
      << events->output();
  ASSERT_TRUE(events->wait_for_output(became("active"), 20s, mark))
      << events->output();
  EXPECT_TRUE(logind.wait_for_output("inhibitor taken", 10s, lock_mark))
      << "the lock is taken again for the next sleep: " << logind.output();
  auto round_mark = target->output().size();
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s, round_mark))
      << target->output() << engine->output();
  EXPECT_NE(target->output().find("seen " + proxy_ip + ":", round_mark),
            std::string::npos)
      << "captured again after the wake: " << target->output();
}

// Going to sleep ends the engine's own sessions' spare proxy connections
// at once (the way to the proxy may be gone on waking, and the clock that
// ages them may not count the sleep), long before their 10 s lifetime.
TEST_F(engine_e2e, sleep_closes_the_sessions_spare_connections) {
  if (!drover::test::have_command("dbus-daemon"))
    GTEST_SKIP() << "needs dbus-daemon";
  fake_logind sleeper{w->dir};
  ASSERT_EQ(sleeper.start_problem(), "");
  auto& logind = *sleeper.logind;
  w->extra_env.push_back(sleeper.env);
  sessions_lab lab;
  ASSERT_NO_FATAL_FAILURE(start_sessions_lab(*w, lab, 1092));
  ASSERT_TRUE(
      logind.wait_for_output("inhibitor taken: sleep Drover delay", 10s))
      << logind.output() << lab.engine->output();
  ASSERT_NO_FATAL_FAILURE(round_ok(*w, lab)); // a burst
  ASSERT_TRUE(a_spare_is_greeted(lab)) << lab.proxy->output();
  auto events = w->follow_events();
  ASSERT_TRUE(events);
  logind.write_line("sleep");
  ASSERT_TRUE(events->wait_for_output(became("paused"), 10s))
      << events->output();
  EXPECT_TRUE(drover::test::wait_for_story(
      *lab.proxy, drover::test::every_connection_closed, 5s))
      << "a spare outlived the sleep:\n"
      << lab.proxy->output();
}
