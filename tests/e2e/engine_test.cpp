// The engine end to end on Linux, with real parts (see world.hpp): TCP,
// the engine's life (start, stop, leftovers), the proxy going and coming
// back, limits.

#include "tests/e2e/sessions_lab.hpp"
#include "tests/e2e/world.hpp"
#include "tests/support/eventually.hpp"

using namespace drover::e2e;

TEST_F(engine_e2e, tcp_goes_through_the_proxy_and_the_app_sees_its_server) {
  auto [code, out] = w->drover_run({"tcp-client", server_ip, "7", "1"});
  EXPECT_EQ(code, 0) << out << w->log();
  // The client's getpeername() is the original server (checked by the
  // client), and the server saw the proxy, not the app.
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos) << out;
  EXPECT_EQ(out.find("seen " + app_ip), std::string::npos) << out;
  EXPECT_NE(out.find("ok 1"), std::string::npos) << out;
}

TEST_F(engine_e2e, http_goes_through_the_proxy) {
  auto [code, out] = w->drover_run({"http-get", server_ip, "80"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos) << out;
}

// A kernel without NAT (iptable_nat, nf_nat or xt_REDIRECT missing): the
// engine queues the targets' TCP and rewrites it itself, as before the
// kernel redirected it; TCP is still proxied, and the log says which path.
// (A test hook stands in for the missing modules: the machine's kernel has
// them.)
TEST_F(engine_e2e, without_kernel_nat_tcp_is_queued_and_still_proxied) {
  w->extra_env.push_back("DROVER_TEST_QUEUE_TCP=1");
  auto [code, out] = w->drover_run({"tcp-client", server_ip, "7", "20"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 20) << out;
  EXPECT_EQ(out.find("seen " + app_ip), std::string::npos) << out;
  EXPECT_NE(w->log().find("capture set up: TCP and UDP: NFQUEUE"),
            std::string::npos)
      << w->log();
}

// The engine's own sessions (the queued path, and Windows'): once the
// check has seen the proxy read a greeting and a request sent together,
// each session sends them in one segment, a round trip less a connection.
// The recording proxy says so when the request was there as it read the
// greeting; it refuses UDP ASSOCIATE, which is how the check's probe tells
// that it read the pipelined request.
TEST_F(engine_e2e, sessions_send_the_greeting_and_request_together) {
  child proxy{{"sh", "-c",
               "exec ip netns exec " + w->remote.name() + " python3 "
                   + DROVER_SOURCE_DIR "/tests/platform/recording_socks5.py "
                   + proxy_ip + " 1089"}};
  ASSERT_TRUE(proxy.wait_for_output("listening", 10s));
  w->extra_env.push_back("DROVER_TEST_QUEUE_TCP=1");
  // No spares: a spare's request goes alone, after its greeting (below).
  auto cfg = w->proxy_config(
      1089, "spare_connections = 0\n[ui]\nlog_level = \"trace\"\n");
  std::vector<std::string> argv{
      "ip",       "netns",      "exec", w->app.name(), DROVER_BINARY, "run",
      "--config", cfg.string(), "--",   DROVER_PEER,   "tcp-client",  server_ip,
      "7",        "3"};
  child run{argv, w->env()};
  EXPECT_EQ(run.wait(60s), 0) << run.output() << w->log();
  EXPECT_EQ(count(run.output(), "seen "), 3) << run.output();
  EXPECT_EQ(run.output().find("seen " + app_ip), std::string::npos)
      << run.output();
  EXPECT_NE(w->log().find("the proxy reads a greeting and a request sent "
                          "together"),
            std::string::npos)
      << w->log();
  // Every CONNECT the proxy got came with its greeting.
  std::smatch m;
  auto said = proxy.output();
  int requests = 0;
  for (auto it = said.cbegin();
       std::regex_search(it, said.cend(), m, std::regex{"request (\\d+)"});
       it = m[0].second) {
    ++requests;
    EXPECT_NE(said.find("pipelined " + m[1].str() + "\n"), std::string::npos)
        << "request " << m[1] << " came after the greeting's answer:\n"
        << said;
  }
  EXPECT_EQ(requests, 3) << said;
}

// The engine's own sessions (the queued path, and Windows'): a burst of
// connections has the tcp-listener greet a few proxy connections ahead,
// and a later connection's request goes on one of them, its only round
// trip to the proxy. Once the burst is over, the spares close.
TEST_F(engine_e2e, sessions_take_proxy_connections_greeted_ahead) {
  sessions_lab lab;
  ASSERT_NO_FATAL_FAILURE(start_sessions_lab(*w, lab, 1090));
  ASSERT_NO_FATAL_FAILURE(round_ok(*w, lab)); // a burst: four at once
  ASSERT_TRUE(a_spare_is_greeted(lab)) << "no spare was greeted:\n"
                                       << lab.proxy->output();
  auto before = drover::test::newest_connection(lab.proxy->output());
  auto from = lab.proxy->output().size();
  ASSERT_NO_FATAL_FAILURE(round_ok(*w, lab));
  // Some request of the second round went on a connection the proxy had
  // accepted (and greeted) before the round began.
  bool on_a_spare = false;
  std::smatch m;
  auto said = lab.proxy->output().substr(from);
  for (auto it = said.cbegin();
       std::regex_search(it, said.cend(), m, std::regex{"request (\\d+)"});
       it = m[0].second)
    on_a_spare = on_a_spare || std::stoi(m[1].str()) <= before;
  EXPECT_TRUE(on_a_spare) << "every request went on a fresh connection:\n"
                          << lab.proxy->output();
  EXPECT_EQ(lab.target->output().find("seen " + app_ip), std::string::npos)
      << lab.target->output();
  // The burst is over: the spares' lifetime (10 s) ends them.
  EXPECT_TRUE(drover::test::wait_for_story(
      *lab.proxy, drover::test::every_connection_closed, 20s))
      << lab.proxy->output();
}

// A proxy may end a greeted connection (its idle timeout) just as a session
// sends its request on it: the connection goes on a fresh one, unseen by
// the application, and no proxy trouble is reported.
TEST_F(engine_e2e, sessions_replace_a_spare_the_proxy_hangs_up_on) {
  sessions_lab lab;
  ASSERT_NO_FATAL_FAILURE(
      start_sessions_lab(*w, lab, 1091, "--stale-after 300"));
  ASSERT_NO_FATAL_FAILURE(round_ok(*w, lab));
  ASSERT_TRUE(a_spare_is_greeted(lab)) << lab.proxy->output();
  // The condition under test, not a wait for an event: spares older than
  // the proxy's 300 ms.
  std::this_thread::sleep_for(400ms);
  ASSERT_NO_FATAL_FAILURE(round_ok(*w, lab));
  EXPECT_NE(lab.proxy->output().find("hung up"), std::string::npos)
      << "no spare was used:\n"
      << lab.proxy->output();
  EXPECT_EQ(w->log().find("during the handshake"), std::string::npos)
      << w->log();
}

// The kernel redirects: the nat rule is the capture's, the relay's listener
// is on a port below 1024, UDP goes to the relay by TPROXY, and nothing is
// left after the run (rules, policy route).
TEST_F(engine_e2e, the_kernel_redirects_tcp_to_a_privileged_port) {
  auto [code, out] = w->drover_run({"tcp-client", server_ip, "7", "1"});
  EXPECT_EQ(code, 0) << out << w->log();
  std::smatch m;
  auto log = w->log();
  ASSERT_TRUE(std::regex_search(
      log, m,
      std::regex{"capture set up: TCP: nat REDIRECT to the relay; UDP: "
                 "TPROXY to the relay"}))
      << log;
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex{"listener 127.0.0.1:(\\d+)"}))
      << log;
  EXPECT_LT(std::stoi(m[1].str()), 1024);
  // dante reads the greeting and CONNECT from one segment: the check saw it.
  EXPECT_NE(log.find("the proxy reads a greeting and a request sent together"),
            std::string::npos)
      << log;
  auto nat = sh_output(w->app.exec("iptables-save -t nat"));
  EXPECT_EQ(nat.find("DROVER"), std::string::npos) << "removed: " << nat;
  auto mangle = sh_output(w->app.exec("iptables-save -t mangle"));
  EXPECT_EQ(mangle.find("DROVER"), std::string::npos) << "removed: " << mangle;
  auto rules = sh_output(w->app.exec("ip rule show"));
  EXPECT_EQ(rules.find("0x44520008"), std::string::npos) << rules;
  EXPECT_EQ(sh_output(w->app.exec("ip route show table 17490")), "");
}

TEST_F(engine_e2e, a_process_outside_drover_goes_direct) {
  child c{{"ip", "netns", "exec", w->app.name(), DROVER_PEER, "tcp-client",
           server_ip, "7", "1"}};
  EXPECT_EQ(c.wait(30s), 0) << c.output();
  EXPECT_NE(c.output().find("seen " + app_ip + ":"), std::string::npos)
      << c.output();
}

TEST_F(engine_e2e, two_hundred_parallel_connections) {
  auto [code, out] = w->drover_run({"tcp-client", server_ip, "7", "200"});
  EXPECT_EQ(code, 0) << out.substr(0, 2000) << w->log();
  EXPECT_NE(out.find("ok 200"), std::string::npos) << out.substr(0, 2000);
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 200);
}

TEST_F(engine_e2e, the_exit_code_is_the_programs) {
  auto [code, out] = w->drover_run({"tcp-client", "10.210.0.99", "7", "1"});
  EXPECT_EQ(code, 1) << "the peer fails: nothing listens there\n" << out;
}

TEST_F(engine_e2e, no_rule_or_cgroup_is_left_after_a_run) {
  auto [code, out] = w->drover_run({"tcp-client", server_ip, "7", "1"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(w->rules().find("DROVER"), std::string::npos) << w->rules();
  EXPECT_FALSE(w->drover_cgroup_exists());
}

TEST_F(engine_e2e, headless_stops_on_sigterm_and_cleans_up) {
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", w->config().string()},
               w->env()};
  auto events = w->follow_events();
  ASSERT_TRUE(events && events->wait_for_output(became("active"), 20s))
      << engine.output();
  EXPECT_NE(w->rules().find("DROVER"), std::string::npos);
  auto asked = std::chrono::steady_clock::now();
  engine.kill(SIGTERM);
  EXPECT_EQ(engine.wait(10s), 0) << engine.output();
  auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_LT(took, 500ms)
      << "stop took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms";
  EXPECT_EQ(w->rules().find("DROVER"), std::string::npos) << w->rules();
  EXPECT_FALSE(w->drover_cgroup_exists());
  EXPECT_FALSE(fs::exists(w->control_socket())) << "its socket file goes";
}

TEST_F(engine_e2e, after_kill_9_the_next_start_removes_the_leftovers) {
  {
    child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                  "--headless", "--config", w->config().string()},
                 w->env()};
    auto events = w->follow_events();
    ASSERT_TRUE(events && events->wait_for_output(became("active"), 20s))
        << engine.output();
    engine.kill(SIGKILL);
    engine.wait(10s);
  }
  EXPECT_NE(w->rules().find("DROVER"), std::string::npos)
      << "kill -9 leaves the rules (fail closed until the next start)";
  auto [code, out] = w->drover_run({"tcp-client", server_ip, "7", "1"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_EQ(w->rules().find("DROVER"), std::string::npos) << w->rules();
  EXPECT_FALSE(w->drover_cgroup_exists());
}

// `drover unblock`: for a user who does not want Drover back after a
// crash, and for the uninstallers. It refuses while an engine runs; after
// a kill it removes the rules, the routing rule, the kernel programs and
// the group, and the target goes direct.
TEST_F(engine_e2e, after_kill_9_unblock_lets_the_target_go_direct) {
  auto named = w->dir / "e2e-unblock-target";
  fs::copy_file(DROVER_PEER, named);
  auto config = w->config("[targets]\nprocesses = [\"e2e-unblock-target\"]\n");
  auto unblock = [&] {
    child c{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "unblock"},
            w->env()};
    int code = c.wait(60s);
    return std::pair{code, c.output()};
  };
  {
    child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                  "--headless", "--config", config.string()},
                 w->env()};
    auto events = w->follow_events();
    ASSERT_TRUE(events && events->wait_for_output(became("active"), 20s))
        << engine.output();
    auto [code, out] = unblock();
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("nothing was removed"), std::string::npos) << out;
    EXPECT_NE(w->rules().find("DROVER"), std::string::npos)
        << "a running engine's rules stay";
    // Its control socket gone (someone cleaned /run), the engine is still
    // known by its kernel programs, which name its process.
    fs::remove(w->control_socket());
    std::tie(code, out) = unblock();
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("engine is running"), std::string::npos) << out;
    EXPECT_NE(w->rules().find("DROVER"), std::string::npos)
        << "a running engine's rules stay";
    EXPECT_TRUE(engine.running()) << engine.output();
    engine.kill(SIGKILL);
    engine.wait(10s);
  }
  auto probe = [&] {
    child c{{"ip", "netns", "exec", w->app.name(), named.string(), "tcp6",
             server_ip, "7"}};
    c.wait(30s);
    return c.output();
  };
  // Fail closed after the kill: refused by the redirect to the listener
  // that is gone (the server's port is open), or dropped.
  auto after_kill = probe();
  EXPECT_TRUE(after_kill == "refused\n" || after_kill == "blocked\n")
      << after_kill;
  ASSERT_NE(w->rules().find("DROVER"), std::string::npos) << w->rules();
  auto routes = [&] {
    return sh_output(w->app.exec("ip -4 rule show"));
  };
  EXPECT_NE(routes().find("lookup 17490"), std::string::npos) << routes();

  auto [code, out] = unblock();
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("chain DROVER"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel programs"), std::string::npos) << out;
  EXPECT_NE(out.find("go direct now"), std::string::npos) << out;
  EXPECT_EQ(w->rules().find("DROVER"), std::string::npos) << w->rules();
  EXPECT_EQ(routes().find("lookup 17490"), std::string::npos) << routes();
  EXPECT_FALSE(w->drover_cgroup_exists());
  child direct{{"ip", "netns", "exec", w->app.name(), named.string(),
                "tcp-client", server_ip, "7", "1"}};
  EXPECT_EQ(direct.wait(30s), 0) << direct.output();
  EXPECT_NE(direct.output().find("seen " + app_ip), std::string::npos)
      << direct.output();

  std::tie(code, out) = unblock();
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("Nothing to remove"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(w->control_socket()))
      << "the socket file it held goes with it";
}

TEST_F(engine_e2e, the_listener_refuses_connections_drover_did_not_redirect) {
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", w->config().string()},
               w->env()};
  // Active: the listener takes connections (before the proxy check the
  // kernel refuses them itself).
  auto events = w->follow_events();
  ASSERT_TRUE(events && events->wait_for_output(became("active"), 20s))
      << engine.output();
  std::smatch m;
  auto text = engine.output();
  ASSERT_TRUE(std::regex_search(text, m,
                                std::regex{"listener 127\\.0\\.0\\.1:(\\d+)"}));
  // Any local program connecting straight to the listener.
  child probe{{"ip", "netns", "exec", w->app.name(), DROVER_PEER, "tcp-client",
               "127.0.0.1", m[1].str(), "1"}};
  EXPECT_EQ(probe.wait(30s), 1) << probe.output();
  EXPECT_TRUE(engine.wait_for_output("refused a connection", 10s))
      << engine.output();
  EXPECT_EQ(count(w->log() + engine.output(), "connected through"), 0);
}

TEST_F(engine_e2e, a_process_found_by_name_is_captured_from_then_on) {
  auto named = w->dir / "e2e-named-target";
  fs::copy_file(DROVER_PEER, named);
  child engine{
      {"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "--headless",
       "--config",
       w->config("[targets]\nprocesses = [\"e2e-named-target\"]\n").string()},
      w->env()};
  auto events = w->follow_events();
  ASSERT_TRUE(events && events->wait_for_output(became("active"), 20s))
      << engine.output();
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "wait-then-tcp", server_ip, "7"}};
  // procscan looks every 2 s: wait (bounded) until it has moved the process.
  ASSERT_TRUE(engine.wait_for_output("capturing e2e-named-target", 10s))
      << engine.output();
  target.write_line("go");
  EXPECT_EQ(target.wait(30s), 0) << target.output();
  EXPECT_NE(target.output().find("seen " + proxy_ip + ":"), std::string::npos)
      << target.output();
}

// The proxy goes down: the engine says Reconnecting with rising attempts,
// refuses new connections at once (no direct leak), and is Active again
// soon after the proxy returns; new connections work again.
TEST_F(engine_e2e, proxy_down_reconnects_with_backoff_and_recovers) {
  fs::path named;
  // Fast backoff for the test: 1 s, then 2 s (x5, capped).
  auto engine
      = w->headless_with_target("e2e-reconnect-target", named,
                                "[engine]\nreconnect_backoff_max = \"2s\"\n");
  auto target = w->tcp_rounds(*engine, named);
  w->stop_proxy();
  // A connection the proxy cannot serve; the check confirms it is down.
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round failed", 20s)) << target->output();
  auto events = w->follow_events();
  ASSERT_TRUE(events);
  ASSERT_TRUE(events->wait_for_output(reconnect_attempt(2), 20s))
      << events->output();
  EXPECT_NE(events->output().find(reconnect_attempt(1)), std::string::npos)
      << events->output(); // rising attempts
  auto [code, text] = w->status(false);
  EXPECT_NE(text.find("State:    Reconnecting"), std::string::npos) << text;
  EXPECT_NE(text.find("Attempt:"), std::string::npos) << text;
  // While Reconnecting a new connection is refused at once: never direct.
  auto before = std::chrono::steady_clock::now();
  target->write_line("go");
  // (the reset Drover sends in the server's name: "connection refused")
  ASSERT_TRUE(target->wait_for_output("Connection refused\nround failed", 20s))
      << target->output();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  EXPECT_EQ(target->output().find("seen "), std::string::npos)
      << target->output();
  w->start_proxy();
  ASSERT_TRUE(w->wait_for_proxy());
  auto back = std::chrono::steady_clock::now();
  auto mark = events->output().size();
  ASSERT_TRUE(events->wait_for_output(became("active"), 30s, mark))
      << events->output();
  EXPECT_LT(std::chrono::steady_clock::now() - back, 30s);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();
  EXPECT_NE(target->output().find("seen " + proxy_ip + ":"), std::string::npos)
      << target->output();
}

// Wrong credentials are not a passing outage: Failed at once with a reason
// the user can act on, no retry series, new connections refused (never
// direct), and the password in no log.
TEST_F(engine_e2e, a_rejected_login_fails_at_once_and_stays_closed) {
  auto with_login
      = w->other_proxy(1082,
                       "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 "
                       "command: connect udpassociate bind udpreply }",
                       "drovertest", "s3cret-pass");
  auto named = w->dir / "e2e-login-target";
  fs::copy_file(DROVER_PEER, named, fs::copy_options::overwrite_existing);
  auto cfg = w->proxy_config(1082, "auth = true\nlogin = \"drovertest\"\n"
                                   "password = \"wrong-pass\"\n[targets]\n"
                                   "processes = [\"e2e-login-target\"]\n");
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  auto events = w->follow_events();
  ASSERT_TRUE(events);
  ASSERT_TRUE(events->wait_for_output(with_failure("auth_rejected"), 20s))
      << events->output() << engine.output();
  EXPECT_NE(events->output().find(became("failed")), std::string::npos);
  auto [code, text] = w->status(false);
  EXPECT_NE(text.find("State:    Failed"), std::string::npos) << text;
  EXPECT_NE(text.find("login and password"), std::string::npos) << text;
  EXPECT_EQ(text.find("Reconnecting"), std::string::npos) << text;
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "rounds-of-tcp", server_ip, "7", "1"}};
  ASSERT_TRUE(engine.wait_for_output("capturing e2e-login-target", 10s))
      << engine.output();
  target.write_line("go");
  ASSERT_TRUE(target.wait_for_output("Connection refused\nround failed", 20s))
      << target.output();
  EXPECT_EQ(target.output().find("seen "), std::string::npos)
      << target.output();
  EXPECT_EQ(engine.output().find("reconnecting"), std::string::npos)
      << engine.output();
  EXPECT_EQ(w->log().find("wrong-pass"), std::string::npos);
  EXPECT_EQ(engine.output().find("wrong-pass"), std::string::npos);
}

// A low open-file limit lowers the flow cap instead of letting sessions
// run out of descriptors (which used to abort the engine inside CAF).
TEST_F(engine_e2e, a_low_open_file_limit_caps_flows_and_the_engine_survives) {
  auto named = w->dir / "e2e-many-target";
  fs::copy_file(DROVER_PEER, named);
  // (700 - 512 reserved) / 2 descriptors per relayed flow = 94 flows.
  child engine{
      {"ip", "netns", "exec", w->app.name(), "prlimit", "--nofile=700:700",
       DROVER_BINARY, "--headless", "--config",
       w->config("[targets]\nprocesses = [\"e2e-many-target\"]\n").string()},
      w->env()};
  auto events = w->follow_events();
  ASSERT_TRUE(events && events->wait_for_output(became("active"), 20s))
      << engine.output();
  EXPECT_NE(engine.output().find("allows 94 proxied flows"), std::string::npos)
      << engine.output();
  child holder{{"ip", "netns", "exec", w->app.name(), named.string(),
                "wait-then-hold", server_ip, "7", "120"}};
  ASSERT_TRUE(engine.wait_for_output("capturing e2e-many-target", 10s))
      << engine.output();
  holder.write_line("go");
  ASSERT_TRUE(holder.wait_for_output("held 120", 60s))
      << holder.output() << engine.output();
  // "held" means the kernel finished the handshakes (the listener's
  // backlog); the relay accepts them just after: wait for it, bounded.
  bool evicted = drover::test::eventually(
      [&] { return w->status_number("flows_evicted") >= 120 - 94; },
      std::chrono::seconds{20}, std::chrono::milliseconds{100});
  EXPECT_TRUE(evicted) << w->status(true).second.substr(0, 2000);
  EXPECT_TRUE(engine.running()) << engine.output();
  auto tcp = w->status_number("tcp_flows");
  EXPECT_GE(tcp, 1);
  EXPECT_LE(tcp, 94);
  holder.write_line("done");
  EXPECT_EQ(holder.wait(20s), 0) << holder.output();
}

TEST_F(engine_e2e, a_bulk_upload_arrives_whole) {
  // 64 KiB GSO packets: verdicts must fit the netlink socket, and packets
  // too large for a verdict are split (the sink checks the byte count).
  child sink{{"ip", "netns", "exec", w->remote.name(), DROVER_PEER, "sink",
              server_ip, "9000"}};
  ASSERT_TRUE(sink.wait_for_output("listening", 10s));
  auto [code, out] = w->drover_run({"bulk", server_ip, "9000", "128"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("mib_per_s"), std::string::npos) << out;
  EXPECT_EQ(w->log().find("sending verdicts failed"), std::string::npos)
      << w->log();
}

// A target program in another network namespace (a container, another
// Drover's namespace) is not this engine's to capture: its rules do not
// apply there, and taking it into this engine's cgroup would take it from
// the engine of its own namespace.
TEST_F(engine_e2e, a_target_in_another_network_namespace_is_left_alone) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-elsewhere", named);
  child elsewhere{{"ip", "netns", "exec", w->remote.name(), named.string(),
                   "rounds-of-tcp", w->server_ip, "7", "1"}};
  // procscan looks every 2 s: three looks without it.
  EXPECT_FALSE(engine->wait_for_output("capturing e2e-elsewhere", 6500ms))
      << engine->output();
  // The same program in the engine's namespace is captured.
  child here{{"ip", "netns", "exec", w->app.name(), named.string(),
              "rounds-of-tcp", w->server_ip, "7", "1"}};
  EXPECT_TRUE(engine->wait_for_output("capturing e2e-elsewhere", 10s))
      << engine->output();
}

// The engine, a root process that runs for days, maps no GUI library: the
// tray is a library of its own that only a tray loads
// (app/tray/module.hpp).
TEST_F(engine_e2e, the_engine_maps_no_gui_library) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-maps-target", named);
  ASSERT_TRUE(engine->running()) << engine->output();
  std::ifstream maps{"/proc/" + std::to_string(engine->pid()) + "/maps"};
  std::stringstream text;
  text << maps.rdbuf();
  auto all = text.str();
  ASSERT_NE(all.find("libcaf_core"), std::string::npos) << all;
  for (auto* gui : {"libQt5", "libX11", "libGL", "libicu", "drover-tray"})
    EXPECT_EQ(all.find(gui), std::string::npos) << gui << " is mapped";
}

// A tray library gone missing (a half-removed installation) is named, with
// what to do, instead of a loader's error.
TEST_F(engine_e2e, without_its_tray_library_drover_says_what_to_do) {
  auto alone = w->dir / "alone";
  fs::create_directories(alone);
  fs::copy_file(DROVER_BINARY, alone / "drover");
  child tray{{(alone / "drover").string()}, {"DISPLAY=:97"}};
  EXPECT_EQ(tray.wait(10s), 1) << tray.output();
  EXPECT_NE(tray.output().find("its library drover-tray.so is missing"),
            std::string::npos)
      << tray.output();
  EXPECT_NE(tray.output().find("drover --headless"), std::string::npos)
      << tray.output();
}
