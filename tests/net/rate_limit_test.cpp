// The ICMP errors' rate limit (net/rate_limit.hpp), on a clock the test
// moves.

#include <gtest/gtest.h>

#include "net/rate_limit.hpp"

using drover::net::per_second_limit;
using namespace std::chrono_literals;

TEST(per_second_limit, allows_so_many_a_second_then_refuses_until_the_next) {
  per_second_limit limit{3};
  per_second_limit::clock::time_point t{};
  t += 10s;
  EXPECT_TRUE(limit.allow(t));
  EXPECT_TRUE(limit.allow(t + 100ms));
  EXPECT_TRUE(limit.allow(t + 200ms));
  EXPECT_FALSE(limit.allow(t + 300ms));
  // A sender that keeps trying gains nothing, however often it tries.
  for (int i = 0; i < 10000; ++i)
    EXPECT_FALSE(limit.allow(t + 999ms));
  EXPECT_TRUE(limit.allow(t + 1s)) << "a new second";
  EXPECT_TRUE(limit.allow(t + 1s));
  EXPECT_TRUE(limit.allow(t + 1s));
  EXPECT_FALSE(limit.allow(t + 1s));
  // The window starts at the first try after a quiet spell.
  EXPECT_TRUE(limit.allow(t + 5s + 500ms));
  EXPECT_TRUE(limit.allow(t + 6s + 400ms));
  EXPECT_TRUE(limit.allow(t + 6s + 400ms));
  EXPECT_FALSE(limit.allow(t + 6s + 499ms));
  EXPECT_TRUE(limit.allow(t + 6s + 500ms));
}

TEST(per_second_limit, none_allowed_means_none) {
  per_second_limit limit{0};
  EXPECT_FALSE(limit.allow(per_second_limit::clock::time_point{} + 5s));
}
