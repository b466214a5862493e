// Config hot reload, end to end: the real engine in the test's namespaces,
// its config file changed the two ways editors change files (written in
// place, or written beside and renamed over it).

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

// Writes a new file beside `path` and renames it over `path`, as most
// editors and Drover's own save do.
void replace_file(const fs::path& path, const std::string& text) {
  auto tmp = path.parent_path() / (".#" + path.filename().string());
  std::ofstream{tmp, std::ios::trunc} << text;
  fs::rename(tmp, path);
}

// Rewrites `path` in place (truncate, write, close).
void rewrite_file(const fs::path& path, const std::string& text) {
  std::ofstream{path, std::ios::trunc} << text;
}

std::string proxy_section(int port) {
  return "[proxy]\nhost = \"" + proxy_ip + "\"\nport = " + std::to_string(port)
         + "\n";
}

std::string targets(const std::string& name) {
  return "[targets]\nprocesses = [\"" + name + "\"]\n";
}

} // namespace

TEST_F(engine_e2e, a_broken_config_keeps_the_last_good_and_names_the_line) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-broken-target", named);
  event_watch events{*w};
  auto mark = events.mark();
  auto cfg = w->dir / "config.toml";
  // Line 3, column 8: a port that is not a number.
  replace_file(cfg, "[proxy]\nhost = \"" + proxy_ip + "\"\nport = \"x\"\n"
                        + targets("e2e-broken-target"));
  ASSERT_TRUE(events.wait("\"kind\":\"config_error\"", 10s, mark))
      << events.output();
  EXPECT_NE(events.output().find("config.toml:3:8", mark), std::string::npos)
      << "the event names the place: " << events.output();
  auto [code, text] = w->status(false);
  EXPECT_NE(text.find("State:    Active"), std::string::npos) << text;
  EXPECT_NE(text.find("config error: `proxy.port` must be"), std::string::npos)
      << text;
  // Still proxying through the last good config.
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();
  EXPECT_NE(target->output().find("seen " + proxy_ip + ":"), std::string::npos)
      << target->output();
  EXPECT_EQ(events.output().find(restarted(), mark), std::string::npos)
      << events.output();
  EXPECT_EQ(events.output().find(became("starting"), mark), std::string::npos)
      << events.output();
}

TEST_F(engine_e2e, a_changed_proxy_port_moves_the_engine_to_the_new_proxy) {
  auto second
      = w->other_proxy(1081, "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 "
                             "command: connect udpassociate bind udpreply }");
  fs::path named;
  auto engine = w->headless_with_target("e2e-moved-target", named);
  event_watch events{*w};
  auto mark = events.mark();
  rewrite_file(w->dir / "config.toml",
               proxy_section(1081) + targets("e2e-moved-target"));
  ASSERT_TRUE(events.wait(
      became("active") + reason("proxying through " + proxy_ip + ":1081"), 20s,
      mark))
      << events.output();
  EXPECT_NE(events.output().find(became("starting"), mark), std::string::npos)
      << "the parts restarted onto it: " << events.output();
  // The old proxy goes away; connections keep working through the new one.
  w->stop_proxy();
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s))
      << target->output() << engine->output();
}

TEST_F(engine_e2e, the_log_level_applies_without_a_restart) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-level-target", named);
  event_watch events{*w};
  auto mark = events.mark();
  EXPECT_EQ(w->log().find("[debug]"), std::string::npos) << w->log();
  replace_file(w->dir / "config.toml", proxy_section(1080)
                                           + targets("e2e-level-target")
                                           + "[ui]\nlog_level = \"debug\"\n");
  ASSERT_TRUE(
      engine->wait_for_output("the config file changed; applied [ui]", 10s))
      << engine->output();
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();
  ASSERT_TRUE(engine->wait_for_output("[debug]", 10s)) << w->log();
  EXPECT_EQ(events.output().find(became("starting"), mark), std::string::npos)
      << "no restart: " << events.output();
}

TEST_F(engine_e2e, new_targets_are_captured_without_a_restart) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-nobody", named);
  event_watch events{*w};
  auto mark = events.mark();
  auto later = w->dir / "e2e-later-target";
  fs::copy_file(DROVER_PEER, later, fs::copy_options::overwrite_existing);
  child target{{"ip", "netns", "exec", w->app.name(), later.string(),
                "rounds-of-tcp", server_ip, "7", "1"}};
  target.write_line("go");
  ASSERT_TRUE(target.wait_for_output("round ok", 20s)) << target.output();
  EXPECT_NE(target.output().find("seen " + app_ip), std::string::npos)
      << "not a target yet: direct. " << target.output();
  replace_file(w->dir / "config.toml",
               proxy_section(1080) + targets("e2e-later-target"));
  ASSERT_TRUE(engine->wait_for_output("capturing e2e-later-target", 10s))
      << engine->output();
  target.write_line("go");
  ASSERT_TRUE(target.wait_for_output("seen " + proxy_ip, 20s))
      << target.output();
  EXPECT_EQ(events.output().find(restarted(), mark), std::string::npos)
      << events.output();
  EXPECT_EQ(events.output().find(became("starting"), mark), std::string::npos)
      << events.output();
}

// `drover status --follow --json` (the stream the tray reads): the recent
// events first, then each event as it happens and the counters each second,
// until the engine stops.
TEST_F(engine_e2e, status_follow_streams_events_as_they_happen) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-follow-target", named);
  child follower{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "status",
                  "--follow", "--json"},
                 w->env()};
  ASSERT_TRUE(follower.wait_for_output(R"("type":"event","time":)", 10s))
      << follower.output();
  EXPECT_NE(
      follower.output().find(R"("kind":"state_changed","state":"active")"),
      std::string::npos)
      << follower.output();
  ASSERT_TRUE(follower.wait_for_output(R"({"type":"stats","bytes_in":)", 10s))
      << follower.output();
  auto mark = follower.output().size();
  replace_file(w->dir / "config.toml", proxy_section(1080)
                                           + targets("e2e-follow-target")
                                           + "[ui]\nlog_level = \"debug\"\n");
  ASSERT_TRUE(follower.wait_for_output(
      R"("kind":"config_applied","state":"active","reason":"the config file changed; applied [ui]")",
      10s, mark))
      << follower.output();
  engine->kill(SIGTERM);
  EXPECT_EQ(follower.wait(20s), 0)
      << "ends when the engine stops: " << follower.output();
  EXPECT_EQ(engine->wait(20s), 0);
}

// `[skip]` applies while Drover runs: the engine's parts restart onto it
// (the capture staying in place), and the target's next connection to the
// range now skipped goes direct; taken out again, through the proxy.
TEST_F(engine_e2e, a_skip_change_applies_without_a_restart_of_drover) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-skip-target", named);
  event_watch events{*w};
  auto from = [&] {
    child c{{"ip", "netns", "exec", w->app.name(), named.string(), "tcp-client",
             server_ip, "7", "1"}};
    c.wait(20s);
    return c.output();
  };
  EXPECT_NE(from().find("seen " + proxy_ip + ":"), std::string::npos)
      << "through the proxy first";
  auto mark = events.mark();
  replace_file(w->dir / "config.toml",
               proxy_section(1080) + targets("e2e-skip-target")
                   + "[skip]\nextra_skip_cidrs = [\"" + server_ip + "/32\"]\n");
  ASSERT_TRUE(events.wait("[skip]: restarting the engine onto it", 10s, mark))
      << events.output();
  ASSERT_TRUE(events.wait(became("active"), 20s, mark)) << events.output();
  auto out = from();
  EXPECT_NE(out.find("seen " + app_ip + ":"), std::string::npos)
      << "the skipped range goes direct: " << out;
  mark = events.mark();
  replace_file(w->dir / "config.toml",
               proxy_section(1080) + targets("e2e-skip-target"));
  ASSERT_TRUE(events.wait(became("active"), 20s, mark)) << events.output();
  EXPECT_NE(from().find("seen " + proxy_ip + ":"), std::string::npos)
      << "through the proxy again";
  EXPECT_TRUE(engine->running());
}
