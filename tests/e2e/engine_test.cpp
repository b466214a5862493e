// The engine end to end on Linux, with real parts (see world.hpp).

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

// A kernel without TPROXY (xt_TPROXY or policy routing missing): the
// targets' datagrams are queued and relayed by the engine, still proxied.
TEST_F(engine_e2e, without_tproxy_udp_is_queued_and_still_proxied) {
  w->extra_env.push_back("DROVER_TEST_QUEUE_UDP=1");
  auto [code, out]
      = w->drover_run({"udp-client", server_ip, "7", "20", "unconnected"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 20) << out;
  EXPECT_NE(w->log().find("capture set up: TCP: nat REDIRECT to the relay; "
                          "UDP: NFQUEUE"),
            std::string::npos)
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

TEST_F(engine_e2e, udp_connected_socket_goes_through_udp_associate) {
  auto [code, out]
      = w->drover_run({"udp-client", server_ip, "7", "3", "connected"});
  EXPECT_EQ(code, 0) << out << w->log();
  // The client checked each reply came from the server's own address; the
  // server saw the proxy's relay.
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 3) << out;
}

TEST_F(engine_e2e, udp_unconnected_socket_goes_through_udp_associate) {
  auto [code, out]
      = w->drover_run({"udp-client", server_ip, "7", "3", "unconnected"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 3) << out;
}

// The application closed its socket before the reply came back through the
// proxy: its stack answers the reply Drover delivered with "port
// unreachable", addressed to the remote from the application's own
// address. That must not leave the machine; it ends the flow instead.
TEST_F(engine_e2e, a_reply_to_a_closed_udp_socket_is_not_answered_direct) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-closed-target", named);
  auto leaked = "PREROUTING -p icmp -s " + app_ip;
  ASSERT_EQ(sh(w->remote.exec("iptables -t raw -I " + leaked)), 0);
  // A server that answers only when told: every reply comes after the
  // application has closed its sockets and exited.
  child server{{"ip", "netns", "exec", w->remote.name(), DROVER_PEER,
                "udp-echo-on-cue", server_ip, "7007"}};
  ASSERT_TRUE(server.wait_for_output("listening", 10s)) << server.output();
  // Three sockets, one datagram each, closed at once (the kernel's ICMP
  // rate limit allows a few answers).
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "udp-burst", server_ip, "7007", "3"}};
  ASSERT_EQ(target.wait(30s), 0) << target.output();
  ASSERT_TRUE(server.wait_for_output("got 3", 10s)) << server.output();
  server.write_line("answer");
  ASSERT_TRUE(server.wait_for_output("answered 3", 10s)) << server.output();
  // Each reply finds its socket closed: the stack answers it and the
  // engine swallows that (its flow ends); none may leak.
  EXPECT_TRUE(drover::test::eventually(
      [&] { return w->status_number("packets_dropped") >= 1; }, 10s, 100ms))
      << w->status(true).second.substr(0, 1500);
  std::smatch m;
  auto saved = sh_output(w->remote.exec("iptables-save -c -t raw"));
  ASSERT_TRUE(std::regex_search(saved, m,
                                std::regex{"\\[(\\d+):\\d+\\] -A PREROUTING -s "
                                           + app_ip + "/32 -p icmp"}))
      << saved;
  EXPECT_EQ(m[1].str(), "0") << "no ICMP from the application: " << saved;
}

// An engine that falls behind: the kernel's capture queue fills, drops
// what does not fit (never sends it direct) and `status` counts it.
TEST_F(engine_e2e, an_overflowing_capture_queue_is_counted) {
  // The queue path (a kernel without TPROXY): with TPROXY, no datagram of
  // a target crosses the queue.
  w->extra_env.push_back("DROVER_TEST_QUEUE_UDP=1");
  fs::path named;
  auto engine = w->headless_with_target("e2e-burst-target", named);
  ASSERT_EQ(w->status_number("queue_overflows"), 0);
  // Counts, on the servers' side, any datagram that arrives from the app's
  // own address (direct) rather than from the proxy.
  auto direct_rule = "PREROUTING -p udp -s " + app_ip + " -d " + server_ip;
  ASSERT_EQ(sh(w->remote.exec("iptables -t raw -I " + direct_rule)), 0);
  child fault{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "fault",
               "stall 3000"},
              w->env()};
  ASSERT_EQ(fault.wait(20s), 0) << fault.output();
  ASSERT_NE(fault.output().find("stalls for 3000 ms"), std::string::npos)
      << fault.output();
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "udp-burst", server_ip, "7", "30000"}};
  ASSERT_EQ(target.wait(30s), 0) << target.output();
  EXPECT_TRUE(drover::test::eventually(
      [&] { return w->status_number("queue_overflows") > 0; }, 20s, 500ms))
      << w->status(true).second.substr(0, 1500);
  EXPECT_EQ(engine->output().find("packet handle was lost"), std::string::npos)
      << "an overflow is not a lost handle: " << engine->output();
  // Dropped, never sent direct.
  std::smatch m;
  auto saved = sh_output(w->remote.exec("iptables-save -c -t raw"));
  ASSERT_TRUE(std::regex_search(
      saved, m, std::regex{"\\[(\\d+):\\d+\\] -A PREROUTING -s " + app_ip}))
      << saved;
  EXPECT_EQ(m[1].str(), "0") << saved;
  // The counter does count: a program that is no target goes direct.
  child other{{"ip", "netns", "exec", w->app.name(), DROVER_PEER, "udp-client",
               server_ip, "7", "1"}};
  ASSERT_EQ(other.wait(20s), 0) << other.output();
  saved = sh_output(w->remote.exec("iptables-save -c -t raw"));
  ASSERT_TRUE(std::regex_search(
      saved, m, std::regex{"\\[(\\d+):\\d+\\] -A PREROUTING -s " + app_ip}));
  EXPECT_NE(m[1].str(), "0") << saved;
}

// RFC 1928 ties an association to its control connection, which carries
// nothing while a call is quiet: keepalive probes keep it (and any NAT on
// the way) alive and find a dead proxy.
TEST_F(engine_e2e, the_associations_control_connection_has_keepalive) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-udp-target", named);
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "wait-then-udp", server_ip, "7", "1", "connected"}};
  ASSERT_TRUE(engine->wait_for_output("capturing e2e-udp-target", 10s))
      << engine->output();
  target.write_line("go");
  ASSERT_EQ(target.wait(30s), 0) << target.output() << w->log();
  // The association outlives the exchange (the flow idles for minutes).
  auto sockets = sh_output(
      w->app.exec("ss -tnoH state established dst " + proxy_ip + ":1080"));
  // CAF turns keepalive on with the system's 2-hour idle time; Drover's
  // first probe must come within 30 s of silence.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      sockets, m, std::regex{R"(timer:\(keepalive,([0-9.]+)(ms|sec|min))"}))
      << sockets;
  EXPECT_NE(m[2].str(), "min") << sockets;
  if (m[2].str() == "sec") {
    EXPECT_LE(std::stod(m[1].str()), 30.0) << sockets;
  }
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

TEST_F(engine_e2e, fifty_udp_sockets) {
  auto [code, out]
      = w->drover_run({"udp-client", server_ip, "7", "50", "connected"});
  EXPECT_EQ(code, 0) << out.substr(0, 2000) << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 50);
}

TEST_F(engine_e2e, status_without_a_running_instance_fails) {
  auto [code, out] = w->status(false);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("not running"), std::string::npos) << out;
}

TEST_F(engine_e2e, status_reports_and_the_flow_table_drains_to_zero) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-drain-target", named);
  auto [code, text] = w->status(false);
  EXPECT_EQ(code, 0);
  EXPECT_NE(text.find("State:    Active"), std::string::npos) << text;
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "wait-then-tcp", server_ip, "7", "200"}};
  ASSERT_TRUE(engine->wait_for_output("capturing e2e-drain-target", 10s))
      << engine->output();
  target.write_line("go");
  ASSERT_EQ(target.wait(60s), 0) << target.output().substr(0, 2000);
  // The relay reports a stream's bytes when it ends, a moment after the
  // target saw its last echo.
  EXPECT_TRUE(drover::test::eventually(
      [&] { return w->status_number("bytes_out") > 0; },
      std::chrono::seconds{10}, std::chrono::milliseconds{100}));
  // Closed flows linger 5 s for their last packets, then go: wait for it,
  // bounded.
  bool drained = drover::test::eventually(
      [&] {
        return w->status(true).second.find("\"flows\":[]") != std::string::npos;
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{200});
  EXPECT_TRUE(drained) << w->status(true).second.substr(0, 2000);
  EXPECT_EQ(w->status_number("tcp_flows"), 0);
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

// Drover relays IPv4 only: a target's IPv6 connection is refused at once
// by the kernel program (the program falls back to IPv4 without waiting
// for a timeout), counted, and never leaves.
TEST_F(engine_e2e, a_targets_ipv6_is_refused_at_once_and_counted_not_leaked) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-v6-target", named);
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "wait-then-tcp6", "fd77::3", "7"}};
  ASSERT_TRUE(engine->wait_for_output("capturing e2e-v6-target", 10s))
      << engine->output();
  auto asked = std::chrono::steady_clock::now();
  target.write_line("go");
  EXPECT_EQ(target.wait(30s), 0);
  EXPECT_NE(target.output().find("refused at once: Operation not permitted"),
            std::string::npos)
      << target.output();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s) << "not a timeout";
  EXPECT_TRUE(drover::test::eventually(
      [&] { return w->status_number("ipv6_dropped") > 0; }, 5s, 100ms))
      << "counted";
  // The same attempt from outside Drover gets an answer (a reset from the
  // closed port): IPv6 works here, so the refusal above is Drover's doing.
  child direct{{"ip", "netns", "exec", w->app.name(), DROVER_PEER,
                "wait-then-tcp6", "fd77::3", "22"}};
  direct.write_line("go");
  direct.wait(30s);
  EXPECT_NE(direct.output().find("refused"), std::string::npos)
      << direct.output();
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

// The lifetime totals: every run's bytes, kept in stats.json (the engine's
// state folder) when the engine ends and carried into the next run; a
// damaged file is said, set aside, and counting starts again.
TEST_F(engine_e2e, lifetime_totals_outlive_the_engine) {
  auto stats = w->dir / "state" / "drover" / "stats.json";
  auto lifetime_out = [&] {
    auto [code, out] = w->status(true);
    std::smatch m;
    if (code != 0
        || !std::regex_search(out, m,
                              std::regex{"\"lifetime\":\\{\"bytes_in\":(\\d+),"
                                         "\"bytes_out\":(\\d+),\"since\":\"("
                                         "[0-9-]+)\"\\}"}))
      return std::pair<long, std::string>{-1, out};
    return std::pair<long, std::string>{std::stol(m[2].str()), m[3].str()};
  };
  fs::path named;
  long carried = 0;
  std::string since;
  {
    auto engine = w->headless_with_target("e2e-life-target", named);
    auto first = lifetime_out();
    ASSERT_EQ(first.first, 0) << first.second;
    child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                  "wait-then-tcp", server_ip, "7", "200"}};
    ASSERT_TRUE(engine->wait_for_output("capturing e2e-life-target", 10s))
        << engine->output();
    target.write_line("go");
    ASSERT_EQ(target.wait(60s), 0) << target.output().substr(0, 2000);
    ASSERT_TRUE(drover::test::eventually(
        [&] { return lifetime_out().first > 0; }, 10s, 100ms))
        << lifetime_out().second;
    std::tie(carried, since) = lifetime_out();
    engine->kill(SIGTERM);
    ASSERT_EQ(engine->wait(20s), 0) << engine->output();
  }
  std::ifstream in{stats};
  std::stringstream read;
  read << in.rdbuf();
  auto text = read.str();
  EXPECT_NE(text.find("\"bytes_out\":" + std::to_string(carried)),
            std::string::npos)
      << "written when the engine ended: " << text;
  {
    auto engine = w->headless_with_target("e2e-life-target", named);
    auto next = lifetime_out();
    EXPECT_EQ(next.first, carried) << "carried into the next run";
    EXPECT_EQ(next.second, since);
    auto [code, out] = w->status(false);
    EXPECT_NE(out.find("All time: in "), std::string::npos) << out;
    engine->kill(SIGTERM);
    engine->wait(20s);
  }
  std::ofstream{stats} << "{\"bytes_in\": lots}";
  auto engine = w->headless_with_target("e2e-life-target", named);
  EXPECT_EQ(lifetime_out().first, 0) << "counting starts again";
  auto [code, out] = w->status(false);
  EXPECT_NE(out.find("could not be read (bytes_in is not a whole number"),
            std::string::npos)
      << out;
  EXPECT_TRUE(fs::exists(stats.string() + ".damaged"));
}

// The metrics endpoint (`[metrics] listen`), scraped with curl as
// Prometheus would: the state, each proxy, the lifetime bytes; another
// path is a 404; a changed address moves it at once; a port another
// program holds is said.
TEST_F(engine_e2e, the_metrics_endpoint_answers_a_scraper) {
  if (sh("command -v curl >/dev/null") != 0)
    GTEST_SKIP() << "needs curl (scripts/setup.sh test)";
  auto metrics = [&](uint16_t port, const std::string& path = "/metrics") {
    std::vector<std::string> argv{"ip",
                                  "netns",
                                  "exec",
                                  w->app.name(),
                                  "curl",
                                  "-s",
                                  "-S",
                                  "-i",
                                  "--max-time",
                                  "5",
                                  "http://127.0.0.1:" + std::to_string(port)
                                      + path};
    child c{argv};
    c.wait(10s);
    return c.output();
  };
  fs::path named;
  auto engine = w->headless_with_target(
      "e2e-metrics-target", named, "[metrics]\nlisten = \"127.0.0.1:9464\"\n");
  auto out = metrics(9464);
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Type: text/plain; version=0.0.4"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("drover_state{state=\"active\"} 1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("drover_state{state=\"failed\"} 0"), std::string::npos);
  EXPECT_NE(out.find("drover_proxy_up{proxy=\"\",address=\"" + proxy_ip
                     + ":1080\"} 1"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("# TYPE drover_bytes_total counter"), std::string::npos);
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();
  EXPECT_TRUE(drover::test::eventually(
      [&] {
        std::smatch m;
        auto text = metrics(9464);
        return std::regex_search(
                   text, m,
                   std::regex{
                       "drover_bytes_total\\{direction=\"out\"\\} (\\d+)"})
               && std::stol(m[1].str()) > 0;
      },
      10s, 200ms))
      << metrics(9464);
  EXPECT_NE(metrics(9464, "/").find("404 Not Found"), std::string::npos);
  // Moved by the config, at once.
  event_watch events{*w};
  auto mark = events.mark();
  std::ofstream{w->dir / "config.toml", std::ios::trunc}
      << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1080\n"
      << "[targets]\nprocesses = [\"e2e-metrics-target\"]\n"
      << "[metrics]\nlisten = \"127.0.0.1:9465\"\n";
  ASSERT_TRUE(drover::test::eventually(
      [&] {
        return metrics(9465).find("drover_state{state=\"active\"} 1")
               != std::string::npos;
      },
      10s, 200ms))
      << events.output();
  EXPECT_EQ(metrics(9464).find("200 OK"), std::string::npos)
      << "the old address is closed";
  // A port another program holds: said, in words.
  child holder{
      {"ip", "netns", "exec", w->app.name(), "python3", "-c",
       "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',"
       "9466))\ns.listen()\nprint('held',flush=True)\ntime.sleep(30)"}};
  ASSERT_TRUE(holder.wait_for_output("held", 10s)) << holder.output();
  std::ofstream{w->dir / "config.toml", std::ios::trunc}
      << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1080\n"
      << "[targets]\nprocesses = [\"e2e-metrics-target\"]\n"
      << "[metrics]\nlisten = \"127.0.0.1:9466\"\n";
  EXPECT_TRUE(events.wait("the metrics endpoint cannot listen on "
                          "127.0.0.1:9466",
                          10s, mark))
      << events.output();
}

// `drover report` beside a running engine: one archive any unzip reads,
// with the engine's status, its config without the password, the log's
// end and the versions; the check when asked.
TEST_F(engine_e2e, a_report_archive_holds_what_a_bug_report_needs) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-report-target", named);
  auto archive = w->dir / "report.zip";
  child report{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "report",
                "--no-check", archive.string()},
               w->env()};
  ASSERT_EQ(report.wait(30s), 0) << report.output();
  EXPECT_NE(report.output().find("Logins and passwords are not in it"),
            std::string::npos)
      << report.output();
  auto listing = sh_output("python3 -c \"import zipfile,sys\n"
                           "z=zipfile.ZipFile(sys.argv[1])\n"
                           "assert z.testzip() is None\n"
                           "print(z.namelist())\n"
                           "print(z.read('status.json').decode()[:400])\n"
                           "print('log:', len(z.read('drover.log')))\n"
                           "print(z.read('versions.txt').decode())\" "
                           + archive.string() + " 2>&1");
  EXPECT_NE(listing.find("['versions.txt', 'status.json', 'config.toml', "
                         "'drover.log']"),
            std::string::npos)
      << listing;
  EXPECT_NE(listing.find("\"state\":\"active\""), std::string::npos) << listing;
  EXPECT_EQ(listing.find("log: 0"), std::string::npos) << listing;
  EXPECT_NE(listing.find("drover "), std::string::npos) << listing;
}
