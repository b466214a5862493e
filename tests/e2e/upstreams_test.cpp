// Several `[[proxy]]` upstreams end to end, on the real kernel path: two
// dantes and shadowsocks' ss-local, each on an address of its own so a
// server can tell which one carried a program's traffic. Each rule's
// programs go through the proxy it names; one proxy killed: its programs
// follow their rule's fallback while the others keep proxying, and it is
// used again once it is back.

#include <chrono>
#include <optional>

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

const std::string second_ip = "10.210.0.4"; // the second dante
const std::string ss_ip = "10.210.0.5";     // ss-local and its ss-server
constexpr uint16_t ss_port = 1084;

std::string peer_at(const fs::path& path) {
  fs::copy_file(DROVER_PEER, path, fs::copy_options::overwrite_existing);
  return path.string();
}

std::unique_ptr<child> in_remote(world& w, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", w.remote.name()});
  return std::make_unique<child>(argv);
}

bool accepts(world& w, const std::string& ip, uint16_t port) {
  return sh(w.remote.exec("bash -c 'exec 3<>/dev/tcp/" + ip + "/"
                          + std::to_string(port) + "' 2>/dev/null"))
         == 0;
}

bool wait_accepting(world& w, const std::string& ip, uint16_t port) {
  return drover::test::eventually([&] { return accepts(w, ip, port); }, 10s,
                                  100ms);
}

// A dante of its own on `ip`:1080 (TCP and UDP), as the lab's.
std::unique_ptr<child> second_dante(world& w) {
  auto conf = w.dir / "dante-second.conf";
  std::ofstream{conf} << "logoutput: " << (w.dir / "dante-second.log").string()
                      << "\ninternal: " << second_ip << " port = 1080\n"
                      << "external: " << second_ip << "\n"
                      << "socksmethod: none\nclientmethod: none\n"
                      << "user.privileged: root\nuser.unprivileged: nobody\n"
                      << "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n"
                      << "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 "
                         "command: connect udpassociate bind udpreply }\n";
  auto d = in_remote(w, {"danted", "-f", conf.string(), "-p",
                         (w.dir / "dante-second.pid").string()});
  if (!wait_accepting(w, second_ip, 1080))
    ADD_FAILURE() << "the second dante did not start: " << d->output();
  return d;
}

struct ran {
  int code = -1;
  std::string out;
};

ran run_in(world& w, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", w.app.name()});
  child c{argv};
  ran r;
  r.code = c.wait(30s);
  r.out = c.output();
  return r;
}

bool seen_from(const ran& r, const std::string& ip) {
  return r.out.find("seen " + ip + ":") != std::string::npos;
}

// `drover run [--proxy NAME] -- ARGS...` in the app namespace.
ran drover_run(world& w, const std::string& proxy,
               std::vector<std::string> args,
               const std::optional<fs::path>& config = std::nullopt) {
  std::vector<std::string> argv{"ip",         "netns",       "exec",
                                w.app.name(), DROVER_BINARY, "run"};
  if (config)
    argv.insert(argv.end(), {"--config", config->string()});
  if (!proxy.empty())
    argv.insert(argv.end(), {"--proxy", proxy});
  argv.push_back("--");
  argv.insert(argv.end(), args.begin(), args.end());
  child c{argv, w.env()};
  ran r;
  r.code = c.wait(60s);
  r.out = c.output();
  return r;
}

class upstreams_e2e : public engine_e2e {
protected:
  void SetUp() override {
    engine_e2e::SetUp();
    if (!w)
      return;
    for (auto& ip : {second_ip, ss_ip})
      ASSERT_EQ(
          sh("ip -n " + w->remote.name() + " addr add " + ip + "/24 dev veth1"),
          0);
    dante2 = second_dante(*w);
    if (sh("command -v ss-local >/dev/null && command -v ss-server "
           ">/dev/null")
        == 0) {
      // (-b: its connections to the servers leave from ss_ip too.)
      ss_server = in_remote(*w, {"ss-server", "-s", ss_ip, "-b", ss_ip, "-p",
                                 "8388", "-k", "drover-test-secret", "-m",
                                 "chacha20-ietf-poly1305", "-u"});
      ss_local = in_remote(*w, {"ss-local", "-s", ss_ip, "-p", "8388", "-b",
                                ss_ip, "-l", std::to_string(ss_port), "-k",
                                "drover-test-secret", "-m",
                                "chacha20-ietf-poly1305", "-u"});
      if (!wait_accepting(*w, ss_ip, ss_port))
        ADD_FAILURE() << "ss-local did not start: " << ss_local->output();
    }
  }

  // Three proxies, and a rule for each (the second's programs go direct
  // while it cannot be used), one blocked and, unnamed, the rest direct.
  fs::path three_proxies() {
    auto p = w->dir / "upstreams.toml";
    std::ofstream{p} << "[[proxy]]\nname = \"first\"\nhost = \"" << proxy_ip
                     << "\"\nport = 1080\n\n"
                     << "[[proxy]]\nname = \"second\"\nhost = \"" << second_ip
                     << "\"\nport = 1080\n\n"
                     << "[[proxy]]\nname = \"shadowsocks\"\nhost = \"" << ss_ip
                     << "\"\nport = " << ss_port << "\n\n"
                     << "[[rule]]\nname = \"to first\"\napps = [\"dvr-first\"]"
                     << "\n\n[[rule]]\nname = \"to second\"\napps = "
                        "[\"dvr-second\"]\nproxy = \"second\"\nfallback = "
                        "\"direct\"\n\n"
                     << "[[rule]]\nname = \"to ss\"\napps = [\"dvr-ss\"]\n"
                        "proxy = \"shadowsocks\"\n\n"
                     << "[[rule]]\nname = \"none\"\napps = [\"dvr-none\"]\n"
                        "action = \"block\"\n";
    return p;
  }

  // A headless engine on three_proxies().
  std::unique_ptr<child> start_engine() {
    return std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w->app.name(),
                                 DROVER_BINARY, "--headless", "--config",
                                 three_proxies().string()},
        w->env());
  }

  // The second proxy's first check passed (`status` says so).
  bool second_is_up() {
    return drover::test::eventually(
        [&] {
          return w->status(false).second.find("second (" + second_ip
                                              + ":1080): up")
                 != std::string::npos;
        },
        20s, 200ms);
  }

  std::unique_ptr<child> dante2, ss_server, ss_local;
};

} // namespace

TEST_F(upstreams_e2e, each_rule_goes_through_the_proxy_it_names) {
  if (!ss_local)
    GTEST_SKIP() << "needs shadowsocks-libev (scripts/setup.sh test)";
  auto first = peer_at(w->dir / "dvr-first");
  auto second = peer_at(w->dir / "dvr-second");
  auto ss = peer_at(w->dir / "dvr-ss");
  auto none = peer_at(w->dir / "dvr-none");
  auto other = peer_at(w->dir / "dvr-other");
  auto cfg = three_proxies();
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active") + reason("proxying through "), 20s))
      << engine.output();
  // Every proxy answered: Active without a warning.
  ASSERT_TRUE(drover::test::eventually(
      [&] {
        auto s = w->status(false).second;
        return s.find("shadowsocks (" + ss_ip + ":1084): up")
                   != std::string::npos
               && s.find("second (" + second_ip + ":1080): up")
                      != std::string::npos;
      },
      20s, 200ms))
      << w->status(false).second;
  // (A request and its answer: shadowsocks ends a connection at the first
  // end of data, so no half-close.)
  auto tcp = [&](const std::string& program) {
    return run_in(*w, {program, "http-get", server_ip, "80"});
  };
  auto udp = [&](const std::string& program) {
    return run_in(*w, {program, "udp-client", server_ip, "7", "2"});
  };
  for (auto [program, ip, what] :
       {std::tuple{first, proxy_ip, "the first proxy"},
        std::tuple{second, second_ip, "the second"},
        std::tuple{ss, ss_ip, "ss-local"}}) {
    auto r = tcp(program);
    EXPECT_TRUE(seen_from(r, ip)) << what << ", TCP: " << r.out;
    r = udp(program);
    EXPECT_EQ(count(r.out, "seen " + ip + ":"), 2)
        << what << ", UDP: " << r.out;
  }
  auto r = tcp(other);
  EXPECT_TRUE(seen_from(r, app_ip)) << "no rule: direct: " << r.out;
  r = run_in(*w, {none, "tcp-client", server_ip, "7", "1"});
  EXPECT_NE(r.out.find("Connection refused"), std::string::npos) << r.out;
  // A held connection: `status` names its rule and its proxy.
  child holder{{"ip", "netns", "exec", w->app.name(), second, "hold-tcp",
                server_ip, "7"}};
  ASSERT_TRUE(holder.wait_for_output("connected", 10s)) << holder.output();
  ASSERT_TRUE(drover::test::eventually(
      [&] {
        return w->status(false).second.find(
                   "dvr-second [to second] via second TCP")
               != std::string::npos;
      },
      10s, 200ms))
      << w->status(false).second;
  // status --json has a row per proxy; check each proxy or one by name.
  auto json = w->status(true).second;
  EXPECT_NE(json.find("\"proxies\":[{\"name\":\"first\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"name\":\"shadowsocks\",\"host\":\"" + ss_ip
                      + "\",\"port\":1084,\"state\":\"up\""),
            std::string::npos)
      << json;
  auto [code, out]
      = w->check({"--proxy", "second", "--tcp-target", server_ip + ":7",
                  "--udp-target", server_ip + ":7", "--timeout", "2s"},
                 cfg);
  EXPECT_NE(out.find(second_ip + ":1080"), std::string::npos) << out;
  EXPECT_EQ(out.find(proxy_ip + ":1080"), std::string::npos) << out;
  EXPECT_NE(out.find("  ok    CONNECT " + server_ip + ":7"), std::string::npos)
      << out;
  std::tie(code, out) = w->check({"--proxy", "third"}, cfg);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("no proxy is called \"third\"; the proxies are "
                     "\"first\", \"second\", \"shadowsocks\""),
            std::string::npos)
      << out;
}

TEST_F(upstreams_e2e, one_proxy_down_leaves_the_others_proxying) {
  auto first = peer_at(w->dir / "dvr-first");
  auto second = peer_at(w->dir / "dvr-second");
  auto engine = start_engine();
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  ASSERT_TRUE(second_is_up()) << w->status(false).second;
  auto mark = events.mark();
  // The second dante goes away; a connection meets it, and its check
  // follows: the second proxy reconnects, the engine stays Active.
  dante2->kill(SIGTERM);
  dante2->wait(10s);
  ASSERT_FALSE(accepts(*w, second_ip, 1080));
  run_in(*w, {second, "tcp-client", server_ip, "7", "1"});
  ASSERT_TRUE(events.wait("\"state\":\"active\",\"reason\":\"cannot reach the "
                          "proxy second",
                          30s, mark))
      << events.output();
  EXPECT_NE(events.output().find("\"degraded\":true", mark), std::string::npos)
      << events.output();
  EXPECT_NE(events.output().find("\"proxy\":\"second\"", mark),
            std::string::npos);
  // Its programs follow their fallback (direct here), TCP and UDP; the
  // first proxy's keep going through it.
  auto r = run_in(*w, {second, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, app_ip)) << "fallback = direct: " << r.out;
  r = run_in(*w, {second, "udp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, app_ip)) << "its UDP too: " << r.out;
  r = run_in(*w, {first, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, proxy_ip)) << "the first proxy still: " << r.out;
  r = run_in(*w, {first, "udp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, proxy_ip)) << r.out;
  auto text = w->status(false).second;
  EXPECT_NE(text.find("second (" + second_ip + ":1080): reconnecting, attempt"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Warning:  not every proxy can be used now"),
            std::string::npos)
      << text;
  // Back: used again from the next connection.
  dante2 = second_dante(*w);
  ASSERT_TRUE(events.wait(became("active")
                              + reason("proxying through second (" + second_ip
                                       + ":1080) (reconnected"),
                          60s, mark))
      << events.output();
  r = run_in(*w, {second, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, second_ip)) << r.out;
}

// The engine's own path, as on Windows (the kernel redirects nothing: the
// flow-manager rewrites each captured packet to the one listener, and each
// session and UDP association goes to its packet's rule's proxy).
TEST_F(upstreams_e2e, without_kernel_redirects_each_flow_meets_its_proxy) {
  w->extra_env.push_back("DROVER_TEST_QUEUE_TCP=1"); // TCP and UDP queued
  auto first = peer_at(w->dir / "dvr-first");
  auto second = peer_at(w->dir / "dvr-second");
  auto engine = start_engine();
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  ASSERT_TRUE(second_is_up()) << w->status(false).second;
  EXPECT_NE(w->log().find("TCP and UDP: NFQUEUE"), std::string::npos)
      << "not the kernel's redirect: " << w->log();
  for (auto [program, ip] :
       {std::pair{first, proxy_ip}, std::pair{second, second_ip}}) {
    auto r = run_in(*w, {program, "tcp-client", server_ip, "7", "1"});
    EXPECT_TRUE(seen_from(r, ip)) << program << ", TCP: " << r.out;
    r = run_in(*w, {program, "udp-client", server_ip, "7", "2"});
    EXPECT_EQ(count(r.out, "seen " + ip + ":"), 2)
        << program << ", UDP: " << r.out;
  }
  // `drover run --proxy`'s programs too (their mark carries the proxy).
  auto r = drover_run(*w, "second",
                      {DROVER_PEER, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, second_ip)) << r.out;
}

// `drover run --proxy NAME` beside the running engine: the program (and
// what it starts) goes through that proxy, whatever the rules say of its
// name; without --proxy, through the first; a name no proxy has is said,
// with the names there are, and nothing starts.
TEST_F(upstreams_e2e, drover_run_goes_through_the_proxy_it_names) {
  auto engine = start_engine();
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  ASSERT_TRUE(second_is_up()) << w->status(false).second;
  auto r = drover_run(*w, "second",
                      {DROVER_PEER, "tcp-client", server_ip, "7", "1"});
  EXPECT_EQ(r.code, 0) << r.out << w->log();
  EXPECT_TRUE(seen_from(r, second_ip)) << r.out;
  EXPECT_TRUE(events.wait("in place as a target, for drover run through "
                          "second",
                          5s))
      << events.output();
  r = drover_run(*w, "second",
                 {DROVER_PEER, "udp-client", server_ip, "7", "2", "connected"});
  EXPECT_EQ(count(r.out, "seen " + second_ip + ":"), 2) << r.out;
  // A child of the program: in the same place.
  r = drover_run(
      *w, "second",
      {"sh", "-c",
       std::string{DROVER_PEER} + " tcp-client " + server_ip + " 7 1; exit 5"});
  EXPECT_EQ(r.code, 5) << "the exit code is the program's: " << r.out;
  EXPECT_TRUE(seen_from(r, second_ip)) << "its child too: " << r.out;
  r = drover_run(*w, "", {DROVER_PEER, "tcp-client", server_ip, "7", "1"});
  EXPECT_TRUE(seen_from(r, proxy_ip)) << "no --proxy: the first: " << r.out;
  if (ss_local) {
    r = drover_run(*w, "shadowsocks",
                   {DROVER_PEER, "http-get", server_ip, "80"});
    EXPECT_TRUE(seen_from(r, ss_ip)) << r.out;
  }
  r = drover_run(*w, "third", {"sh", "-c", "echo started"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("drover run: no proxy is called \"third\"; the "
                       "proxies are \"first\", \"second\", "
                       "\"shadowsocks\": run it with one of them, or "
                       "without --proxy (the first)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("started"), std::string::npos) << r.out;
  // While the named proxy cannot be used, the caller is told what its
  // program's connections meet (the second's fallback: direct).
  auto mark = events.mark();
  dante2->kill(SIGTERM);
  dante2->wait(10s);
  run_in(*w,
         {peer_at(w->dir / "dvr-second"), "tcp-client", server_ip, "7", "1"});
  ASSERT_TRUE(events.wait("cannot reach the proxy second", 30s, mark))
      << events.output();
  r = drover_run(*w, "second", {"true"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("drover run: Drover cannot use the proxy second"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("until it answers"), std::string::npos) << r.out;
}

// With no engine running, `drover run --proxy NAME` starts one of its own
// and its program goes through that proxy.
TEST_F(upstreams_e2e, drover_run_alone_goes_through_the_proxy_it_names) {
  auto r = drover_run(*w, "second",
                      {DROVER_PEER, "tcp-client", server_ip, "7", "1"},
                      three_proxies());
  EXPECT_EQ(r.code, 0) << r.out << w->log();
  EXPECT_TRUE(seen_from(r, second_ip)) << r.out;
  r = drover_run(*w, "third", {"true"}, three_proxies());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("drover run: no proxy is called \"third\""),
            std::string::npos)
      << r.out;
}
