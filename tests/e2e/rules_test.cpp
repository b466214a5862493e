// `[[rule]]` end to end: one engine, the real kernel path, a real dante. A
// rule matrix (by a pattern, by a path, by a folder, a launcher's children;
// proxy, direct, block), the first match deciding; a version 1 file brought
// up to date; a rule changed while Drover runs.

#include <chrono>

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

// A copy of the peer helper at `path`.
std::string peer_at(const fs::path& path) {
  fs::create_directories(path.parent_path());
  fs::copy_file(DROVER_PEER, path, fs::copy_options::overwrite_existing);
  return path.string();
}

// `argv` in the app namespace; its exit code, output and how long it took.
struct ran {
  int code = -1;
  std::string out;
  std::chrono::milliseconds took{};
};

ran run_in(world& w, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", w.app.name()});
  auto start = std::chrono::steady_clock::now();
  child c{argv};
  ran r;
  r.code = c.wait(30s);
  r.out = c.output();
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return r;
}

bool proxied(const ran& r) {
  return r.out.find("seen " + proxy_ip + ":") != std::string::npos;
}
bool direct(const ran& r) {
  return r.out.find("seen " + app_ip + ":") != std::string::npos;
}

} // namespace

TEST_F(engine_e2e, rules_send_each_program_its_own_way_first_match_wins) {
  auto apps = w->dir / "apps";
  auto globbed = peer_at(w->dir / "dvr-glob-one");
  auto by_path = peer_at(w->dir / "bin" / "only-by-path");
  auto same_name_elsewhere = peer_at(w->dir / "elsewhere" / "only-by-path");
  auto in_folder = peer_at(apps / "sub" / "anything");
  auto updater = peer_at(apps / "sub" / "dvr-updater");
  auto blocked = peer_at(w->dir / "dvr-blocked");
  auto other = peer_at(w->dir / "not-in-any-rule");
  auto launcher = w->dir / "dvr-launcher";
  fs::copy_file("/bin/sh", launcher);
  auto helper = peer_at(w->dir / "dvr-helper");
  auto cfg = w->proxy_config(
      1080, "[[rule]]\nname = \"updater\"\napps = [\"dvr-updater\"]\n"
            "action = \"direct\"\n"
            "[[rule]]\nname = \"glob\"\napps = [\"dvr-glob-*\"]\n"
            "[[rule]]\nname = \"path\"\npaths = [\""
                + by_path
                + "\"]\n"
                  "[[rule]]\nname = \"folder\"\nfolders = [\""
                + apps.string()
                + "\"]\n"
                  "[[rule]]\nname = \"blocked\"\napps = [\"dvr-blocked\", "
                  "\"dvr-helper\"]\naction = \"block\"\n"
                  "[[rule]]\nname = \"launcher\"\napps = [\"dvr-launcher\"]\n"
                  "children = true\n");
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine.output();
  auto tcp = [&](const std::string& program) {
    return run_in(*w, {program, "tcp-client", server_ip, "7", "1"});
  };
  auto r = tcp(globbed);
  EXPECT_TRUE(proxied(r)) << "a pattern: " << r.out;
  r = run_in(*w, {globbed, "udp-client", server_ip, "7", "1"});
  EXPECT_TRUE(proxied(r)) << "its UDP too: " << r.out;
  r = tcp(by_path);
  EXPECT_TRUE(proxied(r)) << "a path: " << r.out;
  r = tcp(same_name_elsewhere);
  EXPECT_TRUE(direct(r)) << "the same name in another place: " << r.out;
  r = tcp(in_folder);
  EXPECT_TRUE(proxied(r)) << "below a folder: " << r.out;
  r = tcp(updater);
  EXPECT_TRUE(direct(r)) << "an earlier `direct` rule wins: " << r.out;
  r = tcp(other);
  EXPECT_TRUE(direct(r)) << "no rule: left alone: " << r.out;
  // Blocked: refused at once (not a timeout), its UDP too.
  r = tcp(blocked);
  EXPECT_NE(r.out.find("connect: Connection refused"), std::string::npos)
      << r.out;
  EXPECT_LT(r.took, 5s) << "refused, not timed out";
  r = run_in(*w, {blocked, "udp-client", server_ip, "7", "1"});
  EXPECT_NE(r.out.find("send: Operation not permitted"), std::string::npos)
      << r.out;
  // A launcher's children follow its rule, unless an earlier one matches
  // them (the helper is blocked before the launcher's rule).
  r = run_in(*w, {launcher.string(), "-c",
                  other + " tcp-client " + server_ip + " 7 1"});
  EXPECT_TRUE(proxied(r)) << "a child of the launcher: " << r.out;
  r = run_in(*w, {launcher.string(), "-c",
                  helper + " tcp-client " + server_ip + " 7 1"});
  EXPECT_NE(r.out.find("Connection refused"), std::string::npos)
      << "its own earlier rule: " << r.out;
  // `drover status` names each running target with its rule, and each
  // flow's rule.
  child holder{{"ip", "netns", "exec", w->app.name(), globbed, "hold-tcp",
                server_ip, "7"}};
  ASSERT_TRUE(holder.wait_for_output("connected", 10s)) << holder.output();
  ASSERT_TRUE(engine.wait_for_output("capturing dvr-glob-one", 10s))
      << engine.output();
  auto status = run_in(*w, {DROVER_BINARY, "status"});
  EXPECT_NE(status.out.find("dvr-glob-one (pid "), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find(", rule glob)"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("dvr-glob-one [glob] TCP"), std::string::npos)
      << status.out;
}

// The file of an older Drover: read, written once as version 2 (the old
// one kept), and its program still proxied.
TEST_F(engine_e2e, a_version_1_file_is_upgraded_and_still_proxies) {
  auto named = peer_at(w->dir / "e2e-v1-target");
  auto cfg
      = w->proxy_config(1080, "[targets]\nprocesses = [\"e2e-v1-target\"]\n"
                              "when_not_proxying = \"block\"\n");
  std::string old_text;
  {
    std::ifstream in{cfg};
    std::stringstream s;
    s << in.rdbuf();
    old_text = s.str();
  }
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine.output();
  EXPECT_TRUE(engine.wait_for_output("it now has version 2", 5s))
      << engine.output();
  std::ifstream now{cfg};
  std::stringstream text;
  text << now.rdbuf();
  EXPECT_NE(text.str().find("version = 2"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("[[rule]]\nname = \"Discord\"\n"
                            "apps = [\"e2e-v1-target\"]"),
            std::string::npos)
      << text.str();
  std::ifstream kept{cfg.string() + ".v1"};
  std::stringstream kept_text;
  kept_text << kept.rdbuf();
  EXPECT_EQ(kept_text.str(), old_text);
  auto r = run_in(*w, {named, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(proxied(r)) << r.out;
}

// Rules change while Drover runs: the next socket follows the new rules,
// without a restart.
TEST_F(engine_e2e, a_changed_rule_applies_to_the_next_connection) {
  auto program = peer_at(w->dir / "dvr-changing");
  auto rules = [&](const char* action) {
    return std::string{"[[rule]]\napps = [\"dvr-changing\"]\n"} + "action = \""
           + action + "\"\n";
  };
  auto cfg = w->proxy_config(1080, rules("direct"));
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine.output();
  auto r = run_in(*w, {program, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(direct(r)) << r.out;
  auto mark = events.mark();
  {
    auto tmp = cfg.parent_path() / ".#next";
    std::ofstream{tmp} << "[proxy]\nhost = \"" << proxy_ip
                       << "\"\nport = 1080\n"
                       << rules("proxy");
    fs::rename(tmp, cfg);
  }
  ASSERT_TRUE(events.wait("the config file changed; applied", 10s, mark))
      << events.output();
  r = run_in(*w, {program, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(proxied(r)) << r.out;
  EXPECT_EQ(events.output().find(became("starting"), mark), std::string::npos)
      << "no restart: " << events.output();
}

// A rule's own fallback while the proxy cannot be used: one rule's
// programs go direct, another's are refused; both are proxied again once
// the proxy is back.
TEST_F(engine_e2e, each_rule_has_its_own_fallback_while_the_proxy_is_down) {
  auto goes_direct = peer_at(w->dir / "dvr-fb-direct");
  auto blocked = peer_at(w->dir / "dvr-fb-block");
  auto cfg = w->proxy_config(
      1080, "[[rule]]\nname = \"voice\"\napps = [\"dvr-fb-block\"]\n"
            "[[rule]]\nname = \"updates\"\napps = [\"dvr-fb-direct\"]\n"
            "fallback = \"direct\"\n");
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine.output();
  auto mark = events.mark();
  auto reject = "INPUT -p tcp -d " + proxy_ip
                + " --dport 1080 -j REJECT --reject-with tcp-reset";
  ASSERT_EQ(sh(w->remote.exec("iptables -I " + reject)), 0);
  struct undo { // the proxy back even when the test fails midway
    world& w;
    std::string rule;
    bool armed = true;
    ~undo() {
      if (armed)
        sh(w.remote.exec("iptables -D " + rule));
    }
  } cleanup{*w, reject};
  // A connection meets the refusing proxy: the check follows.
  run_in(*w, {blocked, "tcp-client", server_ip, "7", "1"});
  ASSERT_TRUE(events.wait(in_state("reconnecting"), 30s, mark))
      << events.output();
  auto r = run_in(*w, {goes_direct, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(direct(r)) << "fallback = direct: " << r.out;
  r = run_in(*w, {goes_direct, "udp-client", server_ip, "7", "1"});
  EXPECT_TRUE(direct(r)) << "its UDP too: " << r.out;
  r = run_in(*w, {blocked, "tcp-client", server_ip, "7", "1"});
  EXPECT_NE(r.out.find("Connection refused"), std::string::npos)
      << "the default, block: " << r.out;
  EXPECT_FALSE(direct(r)) << r.out;
  // The proxy back: proxied again from the next connection.
  ASSERT_EQ(sh(w->remote.exec("iptables -D " + reject)), 0);
  cleanup.armed = false;
  ASSERT_TRUE(events.wait(became("active"), 60s, mark)) << events.output();
  r = run_in(*w, {goes_direct, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(proxied(r)) << r.out;
}
