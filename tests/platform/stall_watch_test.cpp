// The reader's stall watch: the decision with explicit times, and the
// watch's thread firing once for a reader that stopped reading.

#include <future>

#include <gtest/gtest.h>

#include "actors/platform/stall_watch.hpp"

using namespace std::chrono_literals;
using drover::platform::stall_watch;

TEST(stall_watch, a_reader_out_of_its_read_past_the_limit_is_due_once) {
  stall_watch w{3s, 500ms, [] {
                }};
  w.left();
  auto now = stall_watch::clock::now();
  EXPECT_FALSE(w.due(now + 2s));
  EXPECT_TRUE(w.due(now + 4s));
  EXPECT_TRUE(w.stalled());
  EXPECT_FALSE(w.due(now + 10s)); // once
}

TEST(stall_watch, a_reader_inside_its_read_is_never_due) {
  stall_watch w{3s, 500ms, [] {
                }};
  w.entered(); // blocked in its read: waiting for packets is fine
  EXPECT_FALSE(w.due(stall_watch::clock::now() + 1h));
  w.left(); // and each time it leaves, the limit counts anew
  auto now = stall_watch::clock::now();
  EXPECT_FALSE(w.due(now + 2s));
}

TEST(stall_watch, its_thread_calls_on_stall_for_a_reader_that_stopped) {
  std::promise<void> fired;
  auto f = fired.get_future();
  stall_watch w{50ms, 10ms, [&] {
                  fired.set_value();
                }};
  w.start(); // out of its read from now on, and never back
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(w.stalled());
  w.stop();
}
