// The engine end to end on Linux, with real parts (see world.hpp): the
// targets' UDP through UDP ASSOCIATE (and the queued path), and their
// IPv6, refused.

#include "tests/e2e/world.hpp"
#include "tests/support/eventually.hpp"

using namespace drover::e2e;

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

TEST_F(engine_e2e, fifty_udp_sockets) {
  auto [code, out]
      = w->drover_run({"udp-client", server_ip, "7", "50", "connected"});
  EXPECT_EQ(code, 0) << out.substr(0, 2000) << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 50);
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
