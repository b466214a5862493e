// How many spare proxy connections a burst wants (net/spare_demand.hpp),
// on a clock the test moves.

#include <gtest/gtest.h>

#include "net/spare_demand.hpp"

using drover::net::spare_demand;
using namespace std::chrono_literals;

TEST(spare_demand, a_lone_connection_wants_none_a_burst_one_fewer) {
  spare_demand d;
  spare_demand::clock::time_point t{};
  t += 10s;
  d.note(t);
  EXPECT_EQ(d.wanted(t, 4), 0u) << "a lone connection";
  d.note(t + 100ms);
  EXPECT_EQ(d.wanted(t + 100ms, 4), 1u);
  for (int i = 0; i < 10; ++i)
    d.note(t + 200ms);
  EXPECT_EQ(d.wanted(t + 200ms, 4), 4u) << "at most the limit";
  EXPECT_EQ(d.wanted(t + 200ms, 0), 0u) << "spare_connections = 0";
}

TEST(spare_demand, the_busier_of_two_seconds_counts_then_it_fades) {
  spare_demand d;
  spare_demand::clock::time_point t{};
  t += 10s;
  for (int i = 0; i < 3; ++i)
    d.note(t);
  EXPECT_EQ(d.wanted(t + 1500ms, 4), 2u) << "the second before still counts";
  EXPECT_EQ(d.wanted(t + 2600ms, 4), 0u) << "two quiet seconds: over";
  for (int i = 0; i < 3; ++i)
    d.note(t + 3s);
  d.forget();
  EXPECT_EQ(d.wanted(t + 3s, 4), 0u) << "forgotten (sleep)";
}
