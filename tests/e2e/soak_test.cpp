// The engine under steady load for a while: a target opens a TCP
// connection every 10 ms (so flows come, go and expire) and keeps one
// voice-like UDP socket talking, all through dante. The engine's memory
// (RSS) and descriptors must stay flat once warm: a leak per flow shows as
// growth here long before a user's machine runs out.
//
// Two minutes in the tests; `make bench-soak` runs the same for an hour
// (DROVER_SOAK_SECONDS) and prints every sample.

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

int soak_seconds() {
  const char* text = std::getenv("DROVER_SOAK_SECONDS");
  int s = text != nullptr ? std::atoi(text) : 0;
  return s >= 60 ? s : 120;
}

} // namespace

TEST_F(engine_e2e, memory_and_descriptors_stay_flat_under_steady_load) {
  auto seconds = soak_seconds();
  fs::path named;
  auto engine = w->headless_with_target("e2e-soak-target", named);
  ASSERT_TRUE(engine->running()) << engine->output();
  child target{{"ip", "netns", "exec", w->app.name(), named.string(), "churn",
                server_ip, "7", std::to_string(seconds)}};
  // Warm: the flow table, CAF's and the allocator's pools have their
  // working size after the first quarter (at least 30 s).
  auto warm = std::max(30, seconds / 4);
  auto start = std::chrono::steady_clock::now();
  auto interval = std::chrono::seconds{std::max(5, seconds / 60)};
  std::vector<long> rss, fds;
  auto next = start + std::chrono::seconds{warm};
  while (target.running()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next) {
      rss.push_back(rss_kib(engine->pid()));
      fds.push_back(drover::test::open_descriptors(engine->pid()));
      std::printf(
          "soak t=%llds rss=%ld KiB fds=%ld\n",
          static_cast<long long>(
              std::chrono::duration_cast<std::chrono::seconds>(now - start)
                  .count()),
          rss.back(), fds.back());
      std::fflush(stdout);
      next += interval;
    }
    target.wait_for_output("churn rounds", 1s);
  }
  ASSERT_EQ(target.wait(10s), 0) << target.output();
  EXPECT_NE(target.output().find("failed 0"), std::string::npos)
      << target.output();
  ASSERT_GE(rss.size(), 3u) << "samples after warming up";
  auto [rss_min, rss_max] = std::minmax_element(rss.begin(), rss.end());
  EXPECT_LE(*rss_max - *rss_min, 5 * 1024)
      << "RSS within 5 MiB once warm (from " << rss.front() << " to "
      << rss.back() << " KiB)";
  auto [fd_min, fd_max] = std::minmax_element(fds.begin(), fds.end());
  EXPECT_LE(*fd_max - *fd_min, 64) << "descriptors stay bounded";
  auto [code, status] = w->status(true);
  EXPECT_EQ(code, 0) << status;
  EXPECT_TRUE(engine->running()) << engine->output();
  // Nobody touched the rules: the watchdog found nothing to put back (a
  // check that misread an intact policy route once put it back, and said
  // so, every second).
  EXPECT_EQ(w->log().find("put the capture back"), std::string::npos)
      << w->log();
}
