// Faults injected into the running engine (fault-injection builds: `drover
// fault ...` on the control socket), end to end against the real dante:
// a panic leaves a crash report, fails closed and Retry recovers; a lost
// packet handle is reopened once, a second loss soon after is Failed.

#include "tests/e2e/world.hpp"
#include "tests/support/eventually.hpp"

using namespace drover::e2e;

namespace {

// `drover ARGS...` in the app namespace (a command for the running one).
std::pair<int, std::string> drover_cmd(world& w,
                                       std::vector<std::string> args) {
  std::vector<std::string> argv{"ip", "netns", "exec", w.app.name(),
                                DROVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  child c{argv, w.env()};
  int code = c.wait(20s);
  return {code, c.output()};
}

std::vector<fs::path> crash_reports(world& w) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto& e :
       fs::directory_iterator{w.dir / "state" / "drover" / "logs", ec})
    if (e.path().filename().string().rfind("crash-", 0) == 0)
      out.push_back(e.path());
  return out;
}

} // namespace

TEST_F(engine_e2e, a_panic_leaves_a_crash_report_fails_closed_and_retry_heals) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-panic-target", named);
  event_watch events{*w};
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();

  auto mark = events.mark();
  auto [code, said] = drover_cmd(*w, {"fault", "panic"});
  ASSERT_NE(said.find("the flow-manager throws"), std::string::npos) << said;
  ASSERT_TRUE(events.wait(became("failed"), 10s, mark)) << events.output();
  EXPECT_NE(events.output().find(with_failure("panic"), mark),
            std::string::npos)
      << events.output();
  EXPECT_NE(engine->output().find("a crash report is in"), std::string::npos)
      << engine->output();
  auto reports = crash_reports(*w);
  ASSERT_EQ(reports.size(), 1u) << engine->output();
  auto report = read_text(reports.front());
  for (auto part :
       {"actor:          flow-manager",
        "exception:      injected fault (a test hook)",
        "while handling: ", "version:        0.", "time:  ",
        "Recent engine events:", "active: proxying through", "Last lines of ",
        "Last trace records:", R"("actor":"flow-manager","event":"panic")"})
    EXPECT_NE(report.find(part), std::string::npos) << part << "\n" << report;
  EXPECT_EQ(fs::status(reports.front()).permissions() & fs::perms::others_read,
            fs::perms::none);

  // Failed closed: the rules stay and nothing relays, so the kernel
  // refuses the target's new connection at once (the redirect meets no
  // listener); never direct.
  EXPECT_NE(w->rules().find("DROVER"), std::string::npos) << w->rules();
  auto round_mark = target->output().size();
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("Connection refused\nround failed", 10s,
                                      round_mark))
      << target->output();
  EXPECT_EQ(target->output().find("seen ", round_mark), std::string::npos)
      << target->output();

  // Retry: a new engine; the next connection is proxied.
  mark = events.mark();
  std::tie(code, said) = drover_cmd(*w, {"retry"});
  EXPECT_EQ(code, 0) << said;
  ASSERT_TRUE(events.wait(became("active"), 20s, mark)) << events.output();
  // "Active" goes to the listeners while the flow-manager passes the policy
  // on to the relay, which then listens again: a connection in between is
  // refused (closed, never direct), and the next one proxied.
  round_mark = target->output().size();
  bool proxied = false;
  for (int round = 0; round < 20 && !proxied; ++round) {
    auto before = target->output().size();
    target->write_line("go");
    ASSERT_TRUE(target->wait_for_output("round ", 30s, before))
        << target->output() << engine->output();
    proxied = target->output().find("round ok", before) != std::string::npos;
    if (!proxied) {
      EXPECT_NE(target->output().find("Connection refused", before),
                std::string::npos)
          << target->output();
      // The next round once the relay's listener listens again.
      static const std::regex listener{"listener 127\\.0\\.0\\.1:(\\d+)"};
      auto out = engine->output();
      std::string port;
      for (std::sregex_iterator it{out.begin(), out.end(), listener}, end;
           it != end; ++it)
        port = (*it)[1].str();
      ASSERT_FALSE(port.empty()) << out;
      EXPECT_TRUE(drover::test::eventually(
          [&] {
            return !sh_output(w->app.exec("ss -Hltn sport = :" + port)).empty();
          },
          10s));
    }
  }
  ASSERT_TRUE(proxied) << target->output() << engine->output();
  EXPECT_NE(target->output().find("seen " + proxy_ip + ":", round_mark),
            std::string::npos)
      << target->output();
  EXPECT_EQ(target->output().find("seen " + app_ip), std::string::npos)
      << target->output();
}

TEST_F(engine_e2e, a_lost_packet_handle_is_reopened_once_and_twice_is_failed) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-handle-target", named);
  event_watch events{*w};
  auto target = w->tcp_rounds(*engine, named);

  auto mark = events.mark();
  auto [code, said] = drover_cmd(*w, {"fault", "driver-lost"});
  ASSERT_NE(said.find("the packet handle fails"), std::string::npos) << said;
  // A restart (the reopen), then Active.
  ASSERT_TRUE(events.wait(restarted(), 10s, mark)) << events.output();
  EXPECT_NE(events.output().find(with_failure("driver_lost"), mark),
            std::string::npos)
      << events.output();
  ASSERT_TRUE(events.wait(became("active"), 20s, mark)) << events.output();
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();
  EXPECT_NE(target->output().find("seen " + proxy_ip + ":"), std::string::npos)
      << "the target is still captured after the reopen: " << target->output();
  auto [status_code, text] = w->status(false);
  EXPECT_NE(text.find("starting: the packet handle was lost"),
            std::string::npos)
      << "the restart is in the event list: " << text;

  // A second loss within 30 s: no more reopening.
  mark = events.mark();
  std::tie(code, said) = drover_cmd(*w, {"fault", "driver-lost"});
  ASSERT_TRUE(events.wait(became("failed"), 10s, mark)) << events.output();
  EXPECT_EQ(events.output().find(restarted(), mark), std::string::npos)
      << "no reopen: " << events.output();
}

// A proxy that stops answering without refusing (its packets dropped, as a
// dead route or a firewall does): new connections time out, the check
// times out, Reconnecting; the way back open: Active again.
TEST_F(engine_e2e, a_blackholed_proxy_is_reconnecting_and_recovers) {
  fs::path named;
  auto engine
      = w->headless_with_target("e2e-blackhole-target", named,
                                "[engine]\nreconnect_backoff_max = \"2s\"\n",
                                "tcp_connect_timeout = \"2s\"\n");
  event_watch events{*w};
  auto mark = events.mark();
  auto target = w->tcp_rounds(*engine, named);
  // Only in the test's remote namespace: dante's port stops answering.
  auto rule = "INPUT -p tcp -d " + proxy_ip + " --dport 1080 -j DROP";
  ASSERT_EQ(sh(w->remote.exec("iptables -I " + rule)), 0);
  target->write_line("go");
  ASSERT_TRUE(events.wait(in_state("reconnecting"), 30s, mark))
      << events.output();
  EXPECT_NE(events.output().find(with_failure("proxy_unreachable"), mark),
            std::string::npos)
      << events.output();
  EXPECT_NE(engine->output().find("timed out"), std::string::npos)
      << "the log says why: " << engine->output();
  ASSERT_TRUE(target->wait_for_output("round failed", 30s)) << target->output();
  EXPECT_EQ(target->output().find("seen " + app_ip), std::string::npos)
      << "never direct: " << target->output();
  mark = events.mark();
  ASSERT_EQ(sh(w->remote.exec("iptables -D " + rule)), 0);
  ASSERT_TRUE(events.wait(became("active"), 30s, mark)) << events.output();
  auto round_mark = target->output().size();
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s, round_mark))
      << target->output();
}

// `when_not_proxying = "direct"`, the proxy down: the user chose that the
// targets then go direct. Both TCP (the relay connects for them) and UDP
// (the relay lets each datagram out as the application sent it) do, and
// the answers reach the application.
TEST_F(engine_e2e, direct_while_the_proxy_is_down_lets_tcp_and_udp_out) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-direct-target", named,
                                        "when_not_proxying = \"direct\"\n");
  event_watch events{*w};
  auto mark = events.mark();
  auto rule = "INPUT -p tcp -d " + proxy_ip
              + " --dport 1080 -j REJECT --reject-with tcp-reset";
  ASSERT_EQ(sh(w->remote.exec("iptables -I " + rule)), 0);
  // A first connection meets the refusing proxy: the check follows.
  child first{{"ip", "netns", "exec", w->app.name(), named.string(),
               "tcp-client", server_ip, "7", "1"}};
  first.wait(30s);
  ASSERT_TRUE(events.wait(in_state("reconnecting"), 30s, mark))
      << events.output();
  // A stateful firewall on the user's machine: only answers to what went
  // out come in. The direct datagrams are tracked, so theirs do.
  ASSERT_EQ(sh(w->app.exec("iptables -A INPUT -p udp -s " + server_ip
                           + " -m conntrack ! --ctstate ESTABLISHED -j DROP")),
            0);
  child udp{{"ip", "netns", "exec", w->app.name(), named.string(), "udp-client",
             server_ip, "7", "3", "unconnected"}};
  EXPECT_EQ(udp.wait(30s), 0) << udp.output() << engine->output();
  EXPECT_EQ(count(udp.output(), "seen " + app_ip + ":"), 3) << udp.output();
  child tcp{{"ip", "netns", "exec", w->app.name(), named.string(), "tcp-client",
             server_ip, "7", "2"}};
  EXPECT_EQ(tcp.wait(30s), 0) << tcp.output();
  EXPECT_EQ(count(tcp.output(), "seen " + app_ip + ":"), 2) << tcp.output();
  ASSERT_EQ(sh(w->remote.exec("iptables -D " + rule)), 0);
}

// After an update made while the user had stopped Drover, the tray starts
// its engine with --start-stopped: Idle until Start, never capturing first
// and stopping after (no Starting or Active in its timeline, no rules).
TEST_F(engine_e2e, started_stopped_it_captures_nothing_until_start) {
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--start-stopped", "--config",
                w->config().string()},
               w->env()};
  event_watch events{*w};
  auto mark = events.mark();
  ASSERT_TRUE(engine.wait_for_output("started stopped: waiting for Start", 5s))
      << engine.output();
  auto [code, status] = w->status(false);
  EXPECT_EQ(code, 0) << status;
  EXPECT_NE(status.find("State:    Idle"), std::string::npos) << status;
  EXPECT_EQ(status.find("  starting: "), std::string::npos) << status;
  EXPECT_EQ(status.find("  active: "), std::string::npos) << status;
  EXPECT_EQ(w->rules().find("DROVER"), std::string::npos) << w->rules();

  std::tie(code, status) = drover_cmd(*w, {"start"});
  EXPECT_EQ(code, 0) << status;
  EXPECT_TRUE(events.wait(became("active"), 20s, mark)) << events.output();
  EXPECT_NE(w->rules().find("DROVER"), std::string::npos) << w->rules();
}
