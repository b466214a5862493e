// "Active (no traffic)": said once after the quiet time while a target
// runs, once more when traffic is back, never without a target.

#include <gtest/gtest.h>

#include "messages/traffic_watch.hpp"

using namespace drover;
using namespace std::chrono_literals;

namespace {

struct traffic_test : ::testing::Test {
  traffic_watch w;
  traffic_watch::time_point t0{};
  std::chrono::milliseconds quiet = 60s;
};

} // namespace

TEST_F(traffic_test, quiet_while_a_target_runs_is_said_once) {
  w.on_active(t0);
  EXPECT_EQ(w.on_heartbeat(true, 0, true, t0 + 59s, quiet), "");
  auto said = w.on_heartbeat(true, 0, true, t0 + 60s, quiet);
  EXPECT_NE(said.find("Active (no traffic)"), std::string::npos);
  EXPECT_NE(said.find("1 min"), std::string::npos);
  EXPECT_TRUE(w.no_traffic());
  EXPECT_EQ(w.on_heartbeat(true, 0, true, t0 + 120s, quiet), "");
  EXPECT_EQ(w.on_heartbeat(true, 10, true, t0 + 121s, quiet),
            "traffic flows through the proxy again");
  EXPECT_FALSE(w.no_traffic());
}

TEST_F(traffic_test, quiet_without_a_target_is_not_a_warning) {
  w.on_active(t0);
  EXPECT_EQ(w.on_heartbeat(true, 0, false, t0 + 600s, quiet), "");
  EXPECT_FALSE(w.no_traffic());
}

TEST_F(traffic_test, not_active_clears_the_warning_without_a_word) {
  w.on_active(t0);
  w.on_heartbeat(true, 0, true, t0 + 60s, quiet);
  EXPECT_EQ(w.on_heartbeat(false, 0, true, t0 + 61s, quiet), "");
  EXPECT_FALSE(w.no_traffic());
}
