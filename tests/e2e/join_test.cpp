// `drover run -- CMD` beside a running engine (the tray's, a service's):
// the engine puts the caller's own process in place, which then becomes
// CMD. As root and as a member of the group "drover"; what it refuses, in
// sentences; and that nobody can have another's process put in place.

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

// `drover run ARGS...` in the app namespace, as `prefix` says (setpriv for
// another user), with the world's environment.
std::pair<int, std::string> drover_run(world& w,
                                       std::vector<std::string> command,
                                       std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv{"ip", "netns", "exec", w.app.name()};
  argv.insert(argv.end(), prefix.begin(), prefix.end());
  argv.push_back(DROVER_BINARY);
  argv.push_back("run");
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  child c{argv, w.env()};
  int code = c.wait(60s);
  return {code, c.output()};
}

// The user nobody, in the group drover (4242), which exists only in the
// engine's mount namespace: see engine_with_group().
const std::vector<std::string> as_member{"setpriv", "--reuid=65534",
                                         "--regid=65534", "--groups=4242"};

// A headless engine whose /etc/group has "drover" (GID 4242), a copy bound
// over it in a mount namespace of its own: the machine's is not touched.
std::unique_ptr<child> engine_with_group(world& w, uint16_t proxy_port = 1080) {
  auto group = w.dir / "group";
  sh("cp /etc/group " + group.string() + " && echo 'drover:x:4242:' >> "
     + group.string());
  return std::make_unique<child>(
      std::vector<std::string>{
          "unshare", "--mount", "sh", "-c",
          "mount --bind " + group.string()
              + " /etc/group && exec ip netns exec " + w.app.name() + " "
              + DROVER_BINARY + " --headless --config "
              + w.proxy_config(proxy_port, "[targets]\nprocesses = "
                                           "[\"nothing-by-this-name\"]\n")
                    .string()},
      w.env());
}

} // namespace

TEST_F(engine_e2e, drover_run_joins_a_running_engine_and_exits_as_the_program) {
  auto engine = engine_with_group(*w);
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  // A program that is no target by name: only drover run makes it one.
  auto [code, out]
      = drover_run(*w, {DROVER_PEER, "tcp-client", server_ip, "7", "1"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos)
      << "through the proxy: " << out;
  EXPECT_EQ(out.find("another Drover"), std::string::npos) << out;
  EXPECT_TRUE(events.wait("in place as a target, for drover run", 5s))
      << events.output();
  std::tie(code, out) = drover_run(*w, {"sh", "-c", "exit 7"});
  EXPECT_EQ(code, 7) << "the exit code is the program's: " << out;
  // A config file of its own is not the running engine's: said.
  child with_config{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "run",
                     "--config", (w->dir / "other.toml").string(), "--",
                     "true"},
                    w->env()};
  EXPECT_EQ(with_config.wait(30s), 0) << with_config.output();
  EXPECT_NE(with_config.output().find(
                "drover run: Drover is already running here: true joins it, "
                "with its settings (--config is read only when no Drover "
                "runs)"),
            std::string::npos)
      << with_config.output();
  // Its UDP too, and a member of the group may ask for its own process.
  std::tie(code, out) = drover_run(
      *w, {DROVER_PEER, "udp-client", server_ip, "7", "2", "connected"},
      as_member);
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_EQ(count(out, "seen " + proxy_ip + ":"), 2) << out;
  std::tie(code, out) = drover_run(*w, {"sh", "-c", "id -u"}, as_member);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("65534"), std::string::npos)
      << "as the caller, not as the engine's root: " << out;
  EXPECT_TRUE(engine->running());
}

// What it refuses, each in a sentence a user can act on, and the program
// does not start.
TEST_F(engine_e2e, drover_run_beside_a_stopped_engine_says_what_to_do) {
  auto engine = engine_with_group(*w);
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  child stop{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "stop"},
             w->env()};
  ASSERT_EQ(stop.wait(20s), 0) << stop.output();
  ASSERT_TRUE(events.wait(became("idle"), 10s)) << events.output();
  auto [code, out] = drover_run(*w, {"sh", "-c", "echo started; exit 0"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("drover run: Drover is stopped: choose Start proxying "
                     "in the tray, or run drover start, then run this again"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("started"), std::string::npos) << "not started: " << out;
  EXPECT_EQ(out.find("unspecified"), std::string::npos)
      << "a sentence, never a rendered error: " << out;
}

// While the proxy does not answer, the program starts captured (its
// connections refused, never direct), and the caller is told why.
TEST_F(engine_e2e, drover_run_while_reconnecting_starts_it_and_says_why) {
  auto engine = engine_with_group(*w, 1999); // nothing listens there
  event_watch events{*w};
  ASSERT_TRUE(events.wait(in_state("reconnecting"), 20s)) << engine->output();
  auto [code, out]
      = drover_run(*w, {DROVER_PEER, "tcp-client", server_ip, "7", "1"});
  EXPECT_EQ(code, 1) << "its connection was refused: " << out;
  EXPECT_NE(out.find("drover run: Drover is not proxying yet (cannot reach "
                     "the proxy"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("the program's connections are refused until the proxy "
                     "answers"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Connection refused"), std::string::npos)
      << "the program's own connect() was refused: " << out;
  EXPECT_EQ(out.find("seen "), std::string::npos) << "never direct: " << out;
}

// The process to put in place is the kernel's word on who asks: a caller
// naming another process (here init, and the engine itself) is refused,
// and nothing is added to the engine's group.
TEST_F(engine_e2e, nobody_has_another_process_put_in_place) {
  auto engine = engine_with_group(*w);
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine->output();
  auto socket = w->control_socket();
  auto script = control_client_script(w->dir);
  for (auto pid : {std::string{"1"}, std::to_string(engine->pid())}) {
    child c{{"ip", "netns", "exec", w->app.name(), "setpriv", "--reuid=65534",
             "--regid=65534", "--groups=4242", "/usr/bin/python3",
             script.string(), socket, "run " + pid, ""}};
    c.wait(20s);
    EXPECT_NE(c.output().find("error\nprocess " + pid
                              + " is neither yours nor a child of yours"),
              std::string::npos)
        << c.output();
  }
  EXPECT_EQ(events.output().find("in place as a target"), std::string::npos)
      << events.output();
}

// A stuck engine (stopped here: its socket still takes the connection, and
// nothing answers) must not hang the command line, nor a script or package
// removal that calls it: `drover status` gives up after its patience with
// a sentence saying what to do, and so does `drover status --follow`
// after three heartbeats' silence; the engine, running again, answers.
// Meanwhile a target's traffic waits or fails; none of it goes direct.
TEST_F(engine_e2e, a_stuck_engine_does_not_hang_the_command_line) {
  fs::path target;
  auto engine = w->headless_with_target("stuck-target", target);
  auto follower = w->follow_events(); // from before the engine stops
  ASSERT_TRUE(follower);
  ASSERT_TRUE(follower->wait_for_output(became("active"), 20s))
      << engine->output();
  auto status = [&] {
    child c{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "status"},
            w->env()};
    int code = c.wait(90s);
    return std::pair<int, std::string>{code, c.output()};
  };
  auto run_target = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"ip", "netns", "exec", w->app.name(),
                                  target.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<child>(argv);
  };
  direct_counter direct{*w};
  engine->kill(SIGSTOP);
  auto tcp = run_target({"tcp-client", server_ip, "7", "1"});
  auto udp = run_target({"udp-client", server_ip, "7", "1"});
  auto asked = std::chrono::steady_clock::now();
  auto [code, said] = status();
  auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_NE(tcp->wait(30s), 0) << tcp->output();
  EXPECT_NE(udp->wait(30s), 0) << udp->output();
  EXPECT_EQ(direct.packets(), 0) << "a stuck engine let a target out direct";
  // The follower heard its last heartbeat before the engine stopped: it
  // has given up by now (or does within moments), saying why.
  EXPECT_EQ(follower->wait(10s), 1) << follower->output();
  EXPECT_NE(follower->output().find("did not answer `status --follow` within "
                                    "30 s"),
            std::string::npos)
      << follower->output();
  engine->kill(SIGCONT);
  EXPECT_EQ(code, 1) << said;
  EXPECT_NE(said.find("Drover is running but did not answer `status` within "
                      "30 s"),
            std::string::npos)
      << said;
  EXPECT_GE(waited, 29s) << "it gave the engine its time";
  EXPECT_LT(waited, 60s);
  auto [again, answer] = status();
  EXPECT_EQ(again, 0) << answer;
  EXPECT_NE(answer.find("State:"), std::string::npos)
      << answer << engine->output();
  engine->kill(SIGHUP);
  EXPECT_EQ(engine->wait(10s), 0) << engine->output();
}
