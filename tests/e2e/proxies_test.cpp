// Upstream proxies of other kinds than the lab's dante, end to end: a
// TCP-only proxy (Debian's microsocks, which answers UDP ASSOCIATE with
// "command not supported", as ssh -D and many commercial proxies refuse
// it). The engine is Active for TCP, the targets' UDP follows
// `when_not_proxying`, and every place a user looks says voice cannot go
// through it.

#include <optional>

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

constexpr uint16_t microsocks_port = 1081;

class tcp_only_e2e : public engine_e2e {
protected:
  void SetUp() override {
    engine_e2e::SetUp();
    if (!w)
      return;
    microsocks = w->microsocks(microsocks_port);
    if (!microsocks)
      GTEST_SKIP() << "needs microsocks (scripts/setup.sh test)";
  }

  // A headless engine on microsocks whose target is a copy of the peer
  // helper named `name`; `extra` goes into [targets].
  std::unique_ptr<child> engine(const std::string& name,
                                const std::string& extra = "") {
    target = w->dir / name;
    fs::copy_file(DROVER_PEER, target, fs::copy_options::overwrite_existing);
    config = w->proxy_config(microsocks_port, "[targets]\nprocesses = [\""
                                                  + name + "\"]\n" + extra);
    return std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w->app.name(),
                                 DROVER_BINARY, "--headless", "--config",
                                 config.string()},
        w->env());
  }

  // Runs the target (as `named`) with the peer helper's arguments.
  std::pair<int, std::string> run_target(std::vector<std::string> args) {
    std::vector<std::string> argv{"ip", "netns", "exec", w->app.name(),
                                  target.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    child c{argv};
    int code = c.wait(60s);
    return {code, c.output()};
  }

  std::unique_ptr<child> microsocks;
  fs::path target, config;
};

} // namespace

// The bug this fixes: a proxy without UDP left the engine Reconnecting for
// ever, refusing every connection, although TCP through it works.
TEST_F(tcp_only_e2e, tcp_goes_through_a_tcp_only_proxy_and_udp_is_blocked) {
  auto drover = engine("e2e-tcponly-target");
  event_watch events{*w};
  ASSERT_TRUE(events.wait("\"tcp_only\":true", 20s))
      << events.output() << w->log();
  EXPECT_TRUE(
      events.wait(became("active") + reason("proxying TCP through "), 1s))
      << events.output();
  EXPECT_NE(events.output().find("voice cannot go through this proxy: it "
                                 "does not relay UDP (proxy refused: command "
                                 "not supported), so the targets' UDP is "
                                 "blocked"),
            std::string::npos)
      << events.output();
  EXPECT_EQ(events.output().find(in_state("reconnecting")), std::string::npos)
      << events.output();
  direct_counter direct{*w, "udp"};
  ASSERT_EQ(direct.packets(), 0);

  // (A request and its answer: microsocks ends a connection at the first
  // end of data either way, so the echo's half-close is not for it.)
  auto [code, out] = run_target({"http-get", server_ip, "80"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos)
      << "TCP went through microsocks: " << out;
  std::tie(code, out) = run_target({"udp-client", server_ip, "7", "1"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("no reply"), std::string::npos) << out;
  EXPECT_EQ(direct.packets(), 0) << "blocked, never direct";
  // A connected socket (a resolver's, QUIC's) is refused at once: a port
  // unreachable from the server's address fails its receive, as a closed
  // port's would, instead of its 10 s wait.
  auto asked = std::chrono::steady_clock::now();
  std::tie(code, out)
      = run_target({"udp-client", server_ip, "7", "1", "connected"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("Connection refused"), std::string::npos) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s);
  EXPECT_EQ(direct.packets(), 0) << "refused, never direct";

  auto [status_code, json] = w->status(true);
  EXPECT_EQ(status_code, 0) << json;
  EXPECT_NE(json.find("\"state\":\"active\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"tcp_only\":true"), std::string::npos) << json;
  auto text = w->status(false).second;
  EXPECT_NE(text.find("Warning:  the proxy does not relay UDP: voice cannot "
                      "go through it"),
            std::string::npos)
      << text;
  // A TCP-only proxy is no failure of the proxy: nothing retries it.
  EXPECT_EQ(events.output().find(in_state("reconnecting")), std::string::npos)
      << events.output();
}

// when_not_proxying = "direct": the targets' UDP goes direct while the
// proxy cannot carry it, TCP still through the proxy; and the choice
// changed while running applies at once (the Active event says the new
// one).
TEST_F(tcp_only_e2e, udp_follows_the_fallback_and_its_change_applies_live) {
  auto drover
      = engine("e2e-tcponly-direct", "when_not_proxying = \"direct\"\n");
  event_watch events{*w};
  ASSERT_TRUE(events.wait("so the targets' UDP goes direct", 20s))
      << events.output() << w->log();
  auto [code, out]
      = run_target({"udp-client", server_ip, "7", "2", "connected"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(count(out, "seen " + app_ip + ":"), 2)
      << "the server saw the application itself: " << out;
  std::tie(code, out) = run_target({"http-get", server_ip, "80"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos) << out;

  auto mark = events.mark();
  std::ofstream{config, std::ios::trunc}
      << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = " << microsocks_port
      << "\n[targets]\nprocesses = [\"e2e-tcponly-direct\"]\n"
      << "when_not_proxying = \"block\"\n";
  ASSERT_TRUE(events.wait("so the targets' UDP is blocked", 20s, mark))
      << events.output();
  direct_counter direct{*w, "udp"};
  std::tie(code, out) = run_target({"udp-client", server_ip, "7", "1"});
  EXPECT_NE(code, 0) << out;
  EXPECT_EQ(direct.packets(), 0) << "blocked now, never direct";
}

// `drover check` says what works and what does not, in words.
TEST_F(tcp_only_e2e, check_says_tcp_works_and_voice_cannot) {
  auto [code, out]
      = w->check({"--tcp-target", server_ip + ":7", "--timeout", "2s"},
                 w->proxy_config(microsocks_port));
  EXPECT_EQ(code, 1) << "not everything works: " << out;
  EXPECT_TRUE(out.find("  ok    CONNECT " + server_ip + ":7")
              != std::string::npos)
      << out;
  EXPECT_NE(out.find("  FAIL  UDP ASSOCIATE"), std::string::npos) << out;
  EXPECT_NE(out.find("TCP works through this proxy, but it does not relay UDP "
                     "(proxy refused: command not supported)"),
            std::string::npos)
      << out;
  std::tie(code, out) = w->check(
      {"--tcp-target", server_ip + ":7", "--json", "--timeout", "2s"},
      w->proxy_config(microsocks_port));
  EXPECT_NE(out.find("\"tcp_only\":true"), std::string::npos) << out;
}

// -- Host names instead of addresses -----------------------------------------

namespace {

constexpr uint16_t resolving_port = 1083;
const std::string site = "chat.drover-test.example";
// Where this computer's (poisoned) DNS sends the program: nothing there.
const std::string poisoned = "10.210.0.99";

// A dante that knows `site` (an /etc/hosts of its own) and logs each
// CONNECT with its destination as asked.
std::unique_ptr<child> resolving_proxy(world& w) {
  return w.other_proxy(
      resolving_port,
      "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect }", "", "",
      "127.0.0.1 localhost\n" + server_ip + " " + site + "\n");
}

} // namespace

// The program's DNS lies (the name points where nothing is); the proxy is
// asked for the name its TLS and HTTP give and reaches the real server,
// which the program talks to: openssl s_server over TLS, the peer's HTTP
// server over plain HTTP, both with curl as the program.
void the_proxy_is_asked_for_names(std::unique_ptr<world>& w) {
  auto proxy = resolving_proxy(*w);
  ASSERT_TRUE(w->proxy_accepts(resolving_port));
  auto key = w->dir / "key.pem", cert = w->dir / "cert.pem";
  ASSERT_EQ(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
               "-nodes -days 1 -subj /CN="
               + site + " -keyout " + key.string() + " -out " + cert.string()
               + " 2>/dev/null"),
            0);
  child tls{{"ip", "netns", "exec", w->remote.name(), "openssl", "s_server",
             "-accept", server_ip + ":443", "-cert", cert.string(), "-key",
             key.string(), "-www", "-quiet"}};
  ASSERT_TRUE(drover::test::eventually(
      [&] {
        return sh(w->remote.exec("bash -c 'exec 3<>/dev/tcp/" + server_ip
                                 + "/443' 2>/dev/null"))
               == 0;
      },
      10s, 100ms));
  auto engine = std::make_unique<child>(
      std::vector<std::string>{
          "ip", "netns", "exec", w->app.name(), DROVER_BINARY, "--headless",
          "--config",
          w->proxy_config(resolving_port, "[targets]\nprocesses = [\"curl\"]\n")
              .string()},
      w->env());
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();

  auto curl = [&](const std::string& url, uint16_t port) {
    child c{{"ip", "netns", "exec", w->app.name(), "curl", "-sS", "-k",
             "--max-time", "10", "--resolve",
             site + ":" + std::to_string(port) + ":" + poisoned, url}};
    int code = c.wait(20s);
    return std::make_pair(code, c.output());
  };
  auto [code, out] = curl("https://" + site + "/", 443);
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("s_server"), std::string::npos)
      << "the TLS server's own page: " << out;
  std::tie(code, out) = curl("http://" + site + "/", 80);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("peer " + proxy_ip + ":"), std::string::npos)
      << "the HTTP server, reached through the proxy: " << out;
  auto log = read_text(w->dir / "dante-1083.log");
  EXPECT_NE(log.find("hostname " + site
                     + ".443 in connect-request resolved "
                       "to address "
                     + server_ip),
            std::string::npos)
      << "dante was asked for the name: " << log;
  EXPECT_NE(log.find("hostname " + site + ".80 in connect-request"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(poisoned), std::string::npos)
      << "never for the poisoned address: " << log;
}

TEST_F(engine_e2e, the_proxy_is_asked_for_the_name_tls_and_http_give) {
  the_proxy_is_asked_for_names(w);
}

// The same where the engine relays TCP itself (no kernel NAT; Windows'
// way): the socks-session reads the name.
TEST_F(engine_e2e, queued_tcp_asks_the_proxy_for_names_too) {
  w->extra_env.push_back("DROVER_TEST_QUEUE_TCP=1");
  the_proxy_is_asked_for_names(w);
  EXPECT_NE(w->log().find("capture set up: TCP and UDP: NFQUEUE"),
            std::string::npos)
      << w->log();
}

// connect_by_name = false: the address, as the program resolved it.
TEST_F(engine_e2e, without_connect_by_name_the_proxy_gets_the_address) {
  auto proxy = resolving_proxy(*w);
  ASSERT_TRUE(w->proxy_accepts(resolving_port));
  auto engine = std::make_unique<child>(
      std::vector<std::string>{
          "ip", "netns", "exec", w->app.name(), DROVER_BINARY, "--headless",
          "--config",
          w->proxy_config(resolving_port, "connect_by_name = false\n"
                                          "[targets]\nprocesses = [\"curl\"]\n")
              .string()},
      w->env());
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  child c{{"ip", "netns", "exec", w->app.name(), "curl", "-sS", "--max-time",
           "10", "--resolve", site + ":80:" + server_ip,
           "http://" + site + "/"}};
  EXPECT_EQ(c.wait(20s), 0) << c.output();
  auto log = read_text(w->dir / "dante-1083.log");
  EXPECT_NE(log.find("ATYP: 1"), std::string::npos) << log;
  EXPECT_EQ(log.find("ATYP: 3"), std::string::npos) << log;
  EXPECT_EQ(log.find(site), std::string::npos) << log;
}

// -- shadowsocks' ss-local as the proxy --------------------------------------

namespace {

constexpr uint16_t ss_local_port = 1084;

// shadowsocks-libev as its users run it: ss-local (the SOCKS5 proxy, with
// UDP relay) in front of an ss-server; both in the remote namespace, the
// destinations reached from the ss-server. Null when not installed.
struct shadowsocks {
  std::unique_ptr<child> server, local;
};

std::optional<shadowsocks> start_shadowsocks(world& w) {
  if (sh("command -v ss-local >/dev/null && command -v ss-server >/dev/null")
      != 0)
    return std::nullopt;
  auto in_remote = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", w.remote.name()});
    return std::make_unique<child>(argv);
  };
  shadowsocks ss;
  ss.server
      = in_remote({"ss-server", "-s", proxy_ip, "-p", "8388", "-k",
                   "drover-test-secret", "-m", "chacha20-ietf-poly1305", "-u"});
  ss.local
      = in_remote({"ss-local", "-s", proxy_ip, "-p", "8388", "-b", proxy_ip,
                   "-l", std::to_string(ss_local_port), "-k",
                   "drover-test-secret", "-m", "chacha20-ietf-poly1305", "-u"});
  for (int i = 0; i < 100 && !w.proxy_accepts(ss_local_port); ++i)
    ::usleep(50000);
  return ss;
}

} // namespace

// The proxy many users of tools like Drover have: TCP and UDP (voice) both
// go through ss-local and its server, pipelined where it reads so.
TEST_F(engine_e2e, tcp_and_udp_go_through_shadowsocks_ss_local) {
  auto ss = start_shadowsocks(*w);
  if (!ss)
    GTEST_SKIP() << "needs shadowsocks-libev (scripts/setup.sh test)";
  ASSERT_TRUE(w->proxy_accepts(ss_local_port));
  auto config = w->proxy_config(ss_local_port);
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{
        "ip",  "netns",    "exec",          w->app.name(), DROVER_BINARY,
        "run", "--config", config.string(), "--",          DROVER_PEER};
    argv.insert(argv.end(), args.begin(), args.end());
    child c{argv, w->env()};
    int code = c.wait(60s);
    return std::make_pair(code, c.output());
  };
  // (A request and its answer: shadowsocks, as microsocks, ends a
  // connection at the first end of data, so no half-close here.)
  auto [code, out] = run({"http-get", server_ip, "80"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos)
      << "the server sees the ss-server: " << out;
  std::tie(code, out) = run({"udp-client", server_ip, "7", "3", "connected"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 3) << out;
  EXPECT_EQ(w->log().find("does not relay UDP"), std::string::npos) << w->log();
}

// -- An HTTP proxy (CONNECT): tinyproxy ------------------------------------

namespace {

constexpr uint16_t tinyproxy_port = 1085;

// Debian's tinyproxy on the proxy's address, wanting a login; its log
// names each CONNECT. Null when not installed.
std::unique_ptr<child> start_tinyproxy(world& w) {
  if (sh("command -v tinyproxy >/dev/null") != 0)
    return nullptr;
  auto conf = w.dir / "tinyproxy.conf";
  std::ofstream{conf} << "User nobody\nGroup nogroup\n"
                      << "Port " << tinyproxy_port << "\nListen " << proxy_ip
                      << "\nTimeout 60\nAllow 0.0.0.0/0\nLogLevel Info\n"
                      << "BasicAuth drovertest s3cret-pass\n";
  auto c = std::make_unique<child>(
      std::vector<std::string>{"ip", "netns", "exec", w.remote.name(),
                               "tinyproxy", "-d", "-c", conf.string()});
  for (int i = 0; i < 100 && !w.proxy_accepts(tinyproxy_port); ++i)
    ::usleep(50000);
  return c;
}

std::string http_proxy_config(const std::string& password) {
  return "type = \"http\"\nauth = true\nlogin = \"drovertest\"\n"
         "password = \""
         + password + "\"\n";
}

} // namespace

// An HTTP proxy carries TCP only: Active for TCP, the targets' UDP blocked
// (as with any TCP-only proxy), and said so everywhere.
TEST_F(engine_e2e, an_http_proxy_carries_tcp_and_says_voice_cannot) {
  auto proxy = start_tinyproxy(*w);
  if (!proxy)
    GTEST_SKIP() << "needs tinyproxy (scripts/setup.sh test)";
  ASSERT_TRUE(w->proxy_accepts(tinyproxy_port)) << proxy->output();
  auto config = w->proxy_config(
      tinyproxy_port, http_proxy_config("s3cret-pass")
                          + "[targets]\nprocesses = [\"peer-http\"]\n");
  auto target = w->dir / "peer-http";
  fs::copy_file(DROVER_PEER, target, fs::copy_options::overwrite_existing);
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", config.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait("\"tcp_only\":true", 20s))
      << events.output() << w->log();
  EXPECT_NE(events.output().find("it does not relay UDP (an HTTP proxy relays "
                                 "no UDP)"),
            std::string::npos)
      << events.output();
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"ip", "netns", "exec", w->app.name(),
                                  target.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    child c{argv};
    int code = c.wait(30s);
    return std::make_pair(code, c.output());
  };
  auto [code, out] = run({"http-get", server_ip, "80"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos)
      << "through tinyproxy: " << out;
  std::tie(code, out) = run({"udp-client", server_ip, "7", "1"});
  EXPECT_NE(code, 0) << "UDP blocked: " << out;
  EXPECT_EQ(w->log().find("s3cret-pass"), std::string::npos)
      << "the password in no log";

  auto [check_code, said] = w->check(
      {"--tcp-target", server_ip + ":80", "--timeout", "2s"}, config);
  EXPECT_EQ(check_code, 1) << said;
  EXPECT_NE(said.find("  ok    CONNECT " + server_ip + ":80"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("TCP works through this proxy, but it does not relay "
                      "UDP (an HTTP proxy relays no UDP)"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("s3cret-pass"), std::string::npos);
}

// A wrong password: tinyproxy answers 401, which no retry changes: Failed
// at once, saying so.
TEST_F(engine_e2e, an_http_proxys_refused_login_fails_at_once) {
  auto proxy = start_tinyproxy(*w);
  if (!proxy)
    GTEST_SKIP() << "needs tinyproxy (scripts/setup.sh test)";
  ASSERT_TRUE(w->proxy_accepts(tinyproxy_port)) << proxy->output();
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config",
                w->proxy_config(tinyproxy_port, http_proxy_config("wrong-pass"))
                    .string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("failed"), 20s)) << events.output();
  EXPECT_NE(events.output().find("the HTTP proxy wants a login, or refused "
                                 "the one given (401 Unauthorized)"),
            std::string::npos)
      << events.output();
  EXPECT_EQ(events.output().find(in_state("reconnecting")), std::string::npos)
      << "no retry changes a refused login: " << events.output();
  EXPECT_EQ(w->log().find("wrong-pass"), std::string::npos);
}
