// The leak harness: from Start to Stop a target's traffic goes through the
// proxy or nowhere. On the remote side, a counter sees every packet that
// arrives at the servers' address (10.210.0.3) from the application's own
// address (10.210.0.1) instead of the proxy's: each scenario below must
// end with that counter at zero, whatever the engine went through. Blocked
// packets are fine; direct ones are the bug.

#include "tests/e2e/test_bus.hpp"
#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

constexpr const char* target_name = "e2e-leak-target";

// Counts direct packets (every protocol, IPv4 and IPv6) and, for a sanity
// check, the TCP connections that did arrive through the proxy.
struct leak_counter {
  drover::test::netns& remote;

  explicit leak_counter(drover::test::netns& ns) : remote(ns) {
    sh(remote.exec("iptables -t raw -I PREROUTING 1 -s " + app_ip + "/32 -d "
                   + server_ip + "/32"));
    sh(remote.exec("iptables -t raw -I PREROUTING 1 -s " + proxy_ip + "/32 -d "
                   + server_ip + "/32 -p tcp --syn"));
    sh(remote.exec(
        "ip6tables -t raw -I PREROUTING 1 -s fd77::1/128 -d fd77::3/128"));
  }

  // The packet count of the PREROUTING rule that matches `rule`.
  long count(const std::string& tool, const std::string& rule) {
    std::istringstream saved{sh_output(remote.exec(tool + "-save -c -t raw"))};
    for (std::string line; std::getline(saved, line);)
      if (line.find(rule) != std::string::npos && line[0] == '[')
        return std::stol(line.substr(1));
    return -1;
  }

  long direct() {
    return count("iptables", "-s " + app_ip + "/32 -d " + server_ip + "/32")
           + count("ip6tables", "-s fd77::1/128 -d fd77::3/128");
  }

  // What the leaked packets were, for a failure's message: the first few
  // as tcpdump saw them on the remote side (started by reset()).
  std::string seen() {
    if (!dump)
      return {};
    usleep(300000);
    dump->kill(SIGINT);
    dump->wait(5s);
    return "direct packets seen on the remote side:\n" + dump->output();
  }

  long proxied_connections() {
    return count("iptables", "-s " + proxy_ip + "/32 -d " + server_ip);
  }

  void reset() {
    sh(remote.exec("iptables -t raw -Z PREROUTING"));
    sh(remote.exec("ip6tables -t raw -Z PREROUTING"));
    if (drover::test::have_command("tcpdump")) {
      dump = std::make_unique<child>(std::vector<std::string>{
          "ip", "netns", "exec", remote.name(), "tcpdump", "-i", "veth1", "-nn",
          "-v", "-l", "-c", "10",
          "(src " + app_ip + " and dst " + server_ip
              + ") or (src fd77::1 and dst fd77::3)"});
      dump->wait_for_output("listening on", 5s);
    }
  }

  std::unique_ptr<child> dump;
};

class leak_harness : public engine_e2e {
protected:
  void SetUp() override {
    engine_e2e::SetUp();
    if (!w)
      return;
    counter = std::make_unique<leak_counter>(w->remote);
    events = std::make_unique<event_watch>(*w);
    target = w->dir / target_name;
    fs::copy_file(DROVER_PEER, target, fs::copy_options::overwrite_existing);
  }

  fs::path config(const std::string& proxy_extra = "") {
    return w->config(proxy_extra + "[targets]\nprocesses = [\""
                     + std::string{target_name} + "\"]\n");
  }

  std::unique_ptr<child> engine(const std::vector<std::string>& prefix = {}) {
    std::vector<std::string> argv{"ip", "netns", "exec", w->app.name()};
    argv.insert(argv.end(), prefix.begin(), prefix.end());
    for (auto a : {std::string{DROVER_BINARY}, std::string{"--headless"},
                   std::string{"--config"}, config().string()})
      argv.push_back(a);
    return std::make_unique<child>(argv, w->env());
  }

  // A target that keeps talking over TCP and UDP (see peer_targets.cpp).
  std::unique_ptr<child> chatter() {
    return std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w->app.name(),
                                 target.string(), "chatter", server_ip, "7"});
  }

  // Waits until the chatter's TCP, UDP and connected UDP all reach the
  // servers through the proxy, from output offset `from` on.
  void wait_proxied(child& talker, size_t from = 0) {
    for (auto kind : {"tcp", "udp", "udp-connected"})
      ASSERT_TRUE(talker.wait_for_output(
          std::string{kind} + " seen " + proxy_ip + ":", 30s, from))
          << kind << " never went through the proxy:\n"
          << talker.output();
  }

  // Where most scenarios begin: the engine Active, the counter at zero,
  // and a target talking through the proxy.
  void start_talking(const std::vector<std::string>& prefix = {}) {
    e = engine(prefix);
    ASSERT_TRUE(events->wait(became("active"), 20s)) << e->output();
    counter->reset();
    c = chatter();
    wait_proxied(*c);
  }

  // Where every scenario ends: nothing arrived direct.
  void expect_no_leak(child* engine_now = nullptr) {
    EXPECT_EQ(counter->direct(), 0)
        << counter->seen() << (c ? c->output() : "")
        << (engine_now ? engine_now : e.get())->output();
  }

  std::unique_ptr<leak_counter> counter;
  fs::path target;
  std::unique_ptr<child> e, c;         // the engine, the talking target
  std::unique_ptr<event_watch> events; // the engine's
};

} // namespace

// 500 targets, each connecting over TCP and sending UDP the moment it
// starts: captured from their first packet, not after a process scan.
TEST_F(leak_harness, five_hundred_targets_that_talk_at_once_never_go_direct) {
  e = engine();
  ASSERT_TRUE(events->wait(became("active"), 20s)) << e->output();
  counter->reset();
  child spawner{{"ip", "netns", "exec", w->app.name(), DROVER_PEER, "spawn",
                 "500", target.string(), "burst", server_ip, "7"}};
  ASSERT_TRUE(spawner.wait_for_output("spawned 500", 120s)) << spawner.output();
  expect_no_leak();
  EXPECT_GT(counter->proxied_connections(), 0)
      << "the targets' connections went through the proxy";
}

// A target already talking when Start is pressed: its open TCP connection
// is reset (it reconnects, proxied), its UDP sockets are captured from
// their next datagram.
TEST_F(leak_harness, a_target_running_before_start_is_taken_over_at_once) {
  c = chatter();
  ASSERT_TRUE(c->wait_for_output("tcp seen " + app_ip, 10s)) << c->output();
  ASSERT_TRUE(c->wait_for_output("udp seen " + app_ip, 10s)) << c->output();
  auto mark = c->output().size();
  e = engine();
  // The capture is ready (the guard in place before it): from here on,
  // nothing may arrive direct.
  ASSERT_TRUE(events->wait(reason("capture ready"), 20s)) << e->output();
  counter->reset();
  ASSERT_TRUE(events->wait(became("active"), 20s)) << e->output();
  ASSERT_TRUE(c->wait_for_output("tcp lost", 10s, mark))
      << "its old connection is reset:\n"
      << c->output();
  wait_proxied(*c, mark);
  expect_no_leak();
}

TEST_F(leak_harness, sleep_and_wake_while_a_target_talks) {
  if (!drover::test::have_command("dbus-daemon"))
    GTEST_SKIP() << "needs dbus-daemon";
  fake_logind sleeper{w->dir};
  ASSERT_EQ(sleeper.start_problem(), "");
  auto& logind = *sleeper.logind;
  w->extra_env.push_back(sleeper.env);
  start_talking();
  ASSERT_TRUE(logind.wait_for_output("inhibitor taken", 10s));
  auto mark = events->mark();
  logind.write_line("sleep");
  ASSERT_TRUE(events->wait(became("paused"), 10s, mark)) << events->output();
  usleep(1500000); // asleep for a while, the target still talking
  auto woke = c->output().size();
  logind.write_line("wake");
  ASSERT_TRUE(events->wait(became("active"), 20s, mark)) << events->output();
  wait_proxied(*c, woke);
  expect_no_leak();
}

// A new proxy in the config: the engine's parts restart onto it, the
// capture stays.
TEST_F(leak_harness, a_proxy_change_while_a_target_talks) {
  auto second = w->other_proxy(
      1081, "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect "
            "udpassociate bind udpreply }");
  start_talking();
  auto mark = events->mark();
  auto from = c->output().size();
  // The file changes in place (a rename would do as well).
  std::ofstream{config().string()}
      << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1081\n"
      << "[targets]\nprocesses = [\"" << target_name << "\"]\n";
  ASSERT_TRUE(events->wait(
      became("active") + reason("proxying through " + proxy_ip + ":1081"), 20s,
      mark))
      << events->output();
  ASSERT_TRUE(c->wait_for_output("tcp lost", 20s, from)) << c->output();
  wait_proxied(*c, from);
  expect_no_leak();
}

// An engine part fails (Failed, rules kept), then Retry.
TEST_F(leak_harness, a_crashed_part_and_retry_while_a_target_talks) {
  start_talking();
  auto mark = events->mark();
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"ip", "netns", "exec", w->app.name(),
                                  DROVER_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    child x{argv, w->env()};
    x.wait(20s);
    return x.output();
  };
  cli({"fault", "panic"});
  ASSERT_TRUE(events->wait(became("failed"), 10s, mark)) << events->output();
  usleep(1500000); // Failed for a while, the target still talking
  auto from = c->output().size();
  cli({"retry"});
  ASSERT_TRUE(events->wait(became("active"), 20s, mark)) << events->output();
  wait_proxied(*c, from);
  expect_no_leak();
}

// kill -9: no engine runs, yet nothing goes direct; the next engine
// replaces what the killed one left in one step.
TEST_F(leak_harness, a_killed_engine_and_a_new_start_while_a_target_talks) {
  start_talking();
  e->kill(SIGKILL);
  e->wait(10s);
  events->forget(); // it followed the killed engine
  usleep(2000000);  // no engine at all, the target still talking
  auto from = c->output().size();
  auto again = engine();
  ASSERT_TRUE(events->wait(became("active"), 20s)) << again->output();
  wait_proxied(*c, from);
  expect_no_leak(again.get());
  auto v4 = sh_output(w->app.exec("iptables-save -t raw"));
  EXPECT_EQ(count(v4, "-A OUTPUT -j DROVER"), 1) << v4;
}

// A firewall reload flushes the raw table: the kernel fence holds until
// the watchdog puts the rules back (within 2 s), and the Timeline says so.
TEST_F(leak_harness, flushed_rules_while_a_target_talks) {
  start_talking();
  auto mark = events->mark();
  auto from = c->output().size();
  auto flushed = std::chrono::steady_clock::now();
  // raw (the queue, untracking) and mangle (UDP's way to the relay).
  ASSERT_EQ(sh(w->app.exec("iptables -t raw -F")), 0);
  ASSERT_EQ(sh(w->app.exec("iptables -t mangle -F")), 0);
  ASSERT_TRUE(events->wait(reason("put the capture back in place"), 5s, mark))
      << events->output();
  EXPECT_LT(std::chrono::steady_clock::now() - flushed, 2500ms);
  EXPECT_NE(w->rules().find("-A OUTPUT -j DROVER"), std::string::npos);
  wait_proxied(*c, from);
  expect_no_leak();
  EXPECT_GT(w->status_number("packets_fenced"), 0)
      << "the kernel fence stopped what the missing rules let through";
}

// The policy route that loops the targets' UDP back to the relay, deleted
// (someone's "ip rule flush", a network manager's reset): the marked
// datagrams take the main table's way out and meet the fence until the
// watchdog puts the rule back.
TEST_F(leak_harness, a_deleted_policy_route_while_a_target_talks) {
  start_talking();
  auto mark = events->mark();
  auto from = c->output().size();
  ASSERT_EQ(
      sh(w->app.exec("ip rule del fwmark 0x44520008/0xfffffff8 lookup 17490")),
      0);
  ASSERT_TRUE(events->wait(reason("put the capture back in place"), 5s, mark))
      << events->output();
  wait_proxied(*c, from);
  // The route its table holds, the same.
  mark = events->mark();
  from = c->output().size();
  ASSERT_EQ(sh(w->app.exec("ip route flush table 17490")), 0);
  ASSERT_TRUE(events->wait(reason("put the capture back in place"), 5s, mark))
      << events->output();
  wait_proxied(*c, from);
  expect_no_leak();
  EXPECT_GT(w->status_number("packets_fenced"), 0)
      << "the kernel fence stopped what the missing route let through";
}

// The same for the nat table, where the redirect to the relay lives: the
// targets' new connections meet the fence (tracked, not redirected, so
// dropped) until the watchdog puts the redirect back.
TEST_F(leak_harness, a_flushed_nat_table_while_a_target_talks) {
  start_talking();
  auto mark = events->mark();
  ASSERT_EQ(sh(w->app.exec("iptables -t nat -F")), 0);
  ASSERT_TRUE(events->wait(reason("put the capture back in place"), 5s, mark))
      << events->output();
  EXPECT_NE(sh_output(w->app.exec("iptables-save -t nat"))
                .find("-A OUTPUT -j DROVER"),
            std::string::npos);
  auto from = c->output().size();
  wait_proxied(*c, from);
  expect_no_leak();
}

// Out of descriptors: a low open-file limit, more connections than it
// allows, hundreds of short-lived targets. The cap evicts (each evicted
// flow takes its descriptors along), nothing goes direct, and the engine
// never takes its own shortage for a dead proxy.
TEST_F(leak_harness, out_of_descriptors_while_targets_talk) {
  start_talking({"prlimit", "--nofile=700:700"});
  ASSERT_NE(e->output().find("allows 94 proxied flows"), std::string::npos)
      << e->output();
  child holder{{"ip", "netns", "exec", w->app.name(), target.string(), "hold",
                server_ip, "7", "120"}};
  child spawner{{"ip", "netns", "exec", w->app.name(), DROVER_PEER, "spawn",
                 "200", target.string(), "burst", server_ip, "7"}};
  ASSERT_TRUE(spawner.wait_for_output("spawned 200", 120s)) << spawner.output();
  // Load, not a check: with 94 flows (two descriptors each) for hundreds of
  // connections, one evicted between its SYN and its ACK is reset (it would
  // retry).
  holder.wait_for_output("held 120", 60s);
  auto from = c->output().size();
  wait_proxied(*c, from);
  expect_no_leak();
  EXPECT_GE(w->status_number("flows_evicted"), 1);
  EXPECT_EQ(e->output().find("reconnecting"), std::string::npos)
      << "no proxy check failed for want of descriptors:\n"
      << e->output();
  EXPECT_TRUE(e->running());
  holder.write_line("done");
}
