#include <gtest/gtest.h>

#include "config/parse.hpp"

using namespace drover::config;
using namespace std::chrono_literals;

TEST(durations, parse_whole_number_and_one_unit) {
  EXPECT_EQ(parse_duration("500ms"), duration{500});
  EXPECT_EQ(parse_duration("5s"), duration{5s});
  EXPECT_EQ(parse_duration("5m"), duration{5min});
  EXPECT_EQ(parse_duration("1h"), duration{1h});
  EXPECT_EQ(parse_duration("0s"), duration{0s});
}

TEST(durations, reject_anything_else) {
  for (auto bad : {"", "5", "s", " 5s", "5s ", "5 s", "-5s", "+5s", "1.5s",
                   "5S", "5sec", "5min", "1m30s", "5us", "1234567890s"})
    EXPECT_FALSE(parse_duration(bad).has_value()) << '"' << bad << '"';
}

TEST(durations, format_in_the_largest_exact_unit) {
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(5s), "5s");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(5min), "5m");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(0s), "0s");
  for (auto d :
       {duration{1}, duration{999}, duration{61000}, duration{3600000}})
    EXPECT_EQ(parse_duration(format_duration(d)), d);
}
