// The metrics endpoint's body: one line per state with the current one at
// 1, the timeline's counts, lifetime bytes, and each proxy's health with
// its labels escaped as the text format wants.

#include <gtest/gtest.h>

#include "actors/metrics_render.hpp"

using namespace drover;

TEST(metrics_render, says_the_state_counters_and_each_proxy) {
  engine_status s;
  s.last.state = engine_state::active;
  s.last.tcp_only = true;
  s.reconnect_attempts = 7;
  s.restarts = 2;
  s.stats.tcp_flows = 3;
  s.stats.udp_flows = 1;
  s.stats.queue_overflows = 5;
  s.stats.packets_unowned_passed = 6;
  s.lifetime = {1000, 2000, "2026-12-01"};
  s.proxies = {proxy_row{"home", "192.0.2.1", 1080, "up", true, 0, ""},
               proxy_row{"we\"ird\\", "192.0.2.2", 3128, "reconnecting", false,
                         4, "cannot reach"}};
  auto text = render_metrics(s);
  for (auto line :
       {"# TYPE drover_state gauge\n", "drover_state{state=\"active\"} 1\n",
        "drover_state{state=\"idle\"} 0\n", "drover_degraded 1\n",
        "drover_reconnect_attempts_total 7\n", "drover_restarts_total 2\n",
        "drover_flows{protocol=\"tcp\"} 3\n",
        "drover_flows{protocol=\"udp\"} 1\n",
        "drover_bytes_total{direction=\"in\"} 1000\n",
        "drover_bytes_total{direction=\"out\"} 2000\n",
        "drover_queue_overflows_total 5\n",
        "drover_packets_sorted_total{outcome=\"unowned_passed\"} 6\n",
        "drover_packets_sorted_total{outcome=\"passed\"} 0\n",
        "drover_proxy_up{proxy=\"home\",address=\"192.0.2.1:1080\"} 1\n",
        "drover_proxy_tcp_only{proxy=\"home\",address=\"192.0.2.1:1080\"} 1\n",
        "drover_proxy_up{proxy=\"we\\\"ird\\\\\",address=\"192.0.2.2:3128\"} "
        "0\n",
        "drover_proxy_reconnect_attempt{proxy=\"we\\\"ird\\\\\",address="
        "\"192.0.2.2:3128\"} 4\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  // Every sample line is "name{labels} value" or "name value".
  size_t samples = 0;
  for (size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    auto line = text.substr(at, end - at);
    at = end + 1;
    if (line.rfind("# ", 0) == 0)
      continue;
    ++samples;
    EXPECT_EQ(line.rfind("drover_", 0), 0u) << line;
    EXPECT_NE(line.find(' '), std::string::npos) << line;
  }
  EXPECT_EQ(samples, 6u + 1 + 1 + 1 + 2 + 2 + 1 + 1 + 1 + 4 + 3 * 2);
  s.last.tcp_only = false;
  EXPECT_NE(render_metrics(s).find("drover_degraded 0\n"), std::string::npos);
}
