#pragma once

// The end-to-end lab of the engine's own TCP sessions and their spare proxy
// connections: the queued path (Linux without kernel NAT, and the way
// Windows relays), the recording SOCKS5 proxy, a target in rounds.

#include <memory>
#include <string>

#include "tests/e2e/world.hpp"
#include "tests/support/recording_proxy.hpp"

namespace drover::e2e {

// The engine on the queued path (its own sessions, as on Windows) with the
// recording proxy on `port` (`proxy_args` its options), and a target in
// rounds of four connections, captured.
struct sessions_lab {
  std::unique_ptr<child> proxy, engine, target;
};

inline void start_sessions_lab(world& w, sessions_lab& lab, uint16_t port,
                               const std::string& proxy_args = "") {
  lab.proxy = std::make_unique<child>(std::vector<std::string>{
      "sh", "-c",
      "exec ip netns exec " + w.remote.name() + " python3 "
          + DROVER_SOURCE_DIR "/tests/platform/recording_socks5.py " + proxy_ip
          + " " + std::to_string(port) + " " + proxy_args});
  ASSERT_TRUE(lab.proxy->wait_for_output("listening", 10s));
  w.extra_env.push_back("DROVER_TEST_QUEUE_TCP=1");
  auto named = w.dir / "e2e-spares-target";
  fs::copy_file(DROVER_PEER, named, fs::copy_options::overwrite_existing);
  auto cfg = w.proxy_config(port,
                            "[targets]\nprocesses = [\"e2e-spares-target\"]\n");
  lab.engine = std::make_unique<child>(
      std::vector<std::string>{"ip", "netns", "exec", w.app.name(),
                               DROVER_BINARY, "--headless", "--config",
                               cfg.string()},
      w.env());
  auto events = w.follow_events();
  ASSERT_TRUE(events);
  ASSERT_TRUE(events->wait_for_output(became("active"), 20s))
      << events->output() << lab.engine->output();
  lab.target = std::make_unique<child>(std::vector<std::string>{
      "ip", "netns", "exec", w.app.name(), named.string(), "rounds-of-tcp",
      server_ip, "7", "4"});
  ASSERT_TRUE(lab.engine->wait_for_output("capturing e2e-spares-target", 20s))
      << lab.engine->output();
}

// One round of the target's four connections, which must all succeed.
inline void round_ok(world& w, sessions_lab& lab) {
  auto from = lab.target->output().size();
  lab.target->write_line("go");
  ASSERT_TRUE(lab.target->wait_for_output("round ok", 20s, from))
      << lab.target->output() << lab.proxy->output() << w.log();
}

// After a burst: waits (bounded) for the proxy to have greeted a
// connection nobody asked anything on yet, a spare.
inline bool a_spare_is_greeted(sessions_lab& lab) {
  return drover::test::wait_for_story(*lab.proxy, [](const std::string& out) {
    return !drover::test::greeted_only(out).empty();
  });
}

} // namespace drover::e2e
