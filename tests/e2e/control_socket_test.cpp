// The control socket against callers that misbehave (security_world.hpp):
// garbage, absurd sizes, idle connections by the thousand, followers that
// stop reading, and the heartbeat that tells a quiet engine from a stuck
// one. docs/security.md lists what these tests enforce.

#include "tests/e2e/security_world.hpp"

using namespace drover::e2e;

// Whoever the socket admits cannot wear the engine down: garbage, a size
// beyond reason and a half-sent config get an error or the door; idle
// connections are few and short-lived, so the tray gets in again by
// itself; the log says so once, not once per knock.
TEST_F(security_e2e, the_control_socket_shrugs_off_garbage_and_idle_callers) {
  start_engine();
  ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << engine->output();
  auto baseline = engine_descriptors();
  {
    std::mt19937 random{42};
    std::string garbage(8192, '\0');
    for (auto& c : garbage) {
      c = static_cast<char>(random() % 255 + 1);
      if (c == '\n')
        c = 'x';
    }
    int fd = connect_control();
    ASSERT_GE(fd, 0);
    (void)!::write(fd, garbage.data(), garbage.size());
    auto r = read_to_end(fd, 5s);
    ::close(fd);
    EXPECT_TRUE(r.ended) << "8 KiB without a command: the door";
  }
  EXPECT_NE(control("config set 99999999999999999999999")
                .find("the size must be a number up to"),
            std::string::npos);
  EXPECT_NE(control("config set -1").find("the size must be a number up to"),
            std::string::npos);
  EXPECT_EQ(control(std::string{"\x01\xff\x1bstatus"}),
            "unknown command: ???status\n")
      << "what a client sent comes back printable";
  EXPECT_NE(control(std::string(150, 'x')).find("unknown command: xxx"),
            std::string::npos);
  {
    // Half a config, then nothing: let go after the idle limit (10 s).
    int fd = connect_control();
    ASSERT_GE(fd, 0);
    std::string start = "config set 100\n[proxy]\n";
    (void)!::write(fd, start.data(), start.size());
    auto r = read_to_end(fd, 20s);
    ::close(fd);
    EXPECT_TRUE(r.ended);
    EXPECT_EQ(r.text, "");
  }
  // 10,000 connections that say nothing, from the user (a plain Python
  // client): 16 are theirs to hold (for 10 s), the rest are refused at
  // once, and root (the command line, the service manager) still gets in.
  auto script = w->dir / "idle.py";
  std::ofstream{script}
      << "import resource, socket, sys\n"
      << "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
      << "resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
      << "held = []\n"
      << "for i in range(10000):\n"
      << "    s = socket.socket(socket.AF_UNIX)\n"
      << "    s.connect(sys.argv[1])\n"
      << "    held.append(s)\n"
      << "print('holding', len(held), flush=True)\n"
      << "sys.stdin.readline()\n"
      << "ended = 0\n"
      << "for s in held:\n"
      << "    s.settimeout(30)\n"
      << "    try:\n"
      << "        ended += s.recv(1) == b''\n"
      << "    except OSError:\n"
      << "        pass\n"
      << "print('ended', ended, flush=True)\n";
  child crowd{{"ip", "netns", "exec", w->app.name(), "setpriv", "--reuid=65534",
               "--regid=65534", "--clear-groups", "/usr/bin/python3",
               script.string(), socket_path()}};
  ASSERT_TRUE(crowd.wait_for_output("holding 10000", 60s)) << crowd.output();
  auto status = control("status");
  EXPECT_NE(status.find("State:"), std::string::npos)
      << "root gets in while the user's 10,000 wait: " << status;
  EXPECT_LE(engine_descriptors(), baseline + 16 + 2)
      << "the engine holds 16 of them, not 10,000";
  // The user's own 16 go after the idle limit (each recv sees the end):
  // the tray, that user's, gets in again by itself.
  crowd.write_line("go on");
  ASSERT_TRUE(crowd.wait_for_output("ended 10000", 30s)) << crowd.output();
  EXPECT_EQ(crowd.wait(10s), 0);
  // Root's own allowance: 20 idle connections, 16 held, 4 refused at once.
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) {
    int fd = connect_control();
    ASSERT_GE(fd, 0) << i;
    idle.push_back(fd);
  }
  size_t refused = 0;
  for (size_t i = 16; i < idle.size(); ++i)
    refused += read_to_end(idle[i], 5s).ended ? 1u : 0u;
  EXPECT_EQ(refused, 4u);
  for (int fd : idle) {
    EXPECT_TRUE(read_to_end(fd, 20s).ended) << "let go after 10 s";
    ::close(fd);
  }
  EXPECT_NE(control("status").find("State:"), std::string::npos);
  // Every connection's descriptor was given back.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (engine_descriptors() > baseline
         && std::chrono::steady_clock::now() < deadline)
    control("status");
  EXPECT_LE(engine_descriptors(), baseline);
  std::regex refusal{"refused a control connection"};
  auto said
      = std::distance(std::sregex_iterator(engine->output().begin(),
                                           engine->output().end(), refusal),
                      std::sregex_iterator());
  EXPECT_GE(said, 1);
  EXPECT_LE(said, 4) << "said once per 10 s: " << engine->output();
}

// A follower that stops reading (a hung tray) is let go once 256 KiB wait
// for it: the engine does not hold an endless backlog, keeps its
// descriptors, and other followers go on.
TEST_F(security_e2e, a_follower_that_stops_reading_is_let_go) {
  start_engine();
  ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << engine->output();
  auto baseline = engine_descriptors();
  auto follow = [&] {
    int fd = connect_control();
    std::string command = "follow\n";
    (void)!::write(fd, command.data(), command.size());
    return fd;
  };
  int hung = follow();
  int reader = follow();
  ASSERT_GE(hung, 0);
  ASSERT_GE(reader, 0);
  // Both see the recent events, so both are subscribed.
  EXPECT_FALSE(read_to_end(hung, 5s, "\n").text.empty());
  EXPECT_FALSE(read_to_end(reader, 5s, "\n").text.empty());
  // Bursts of 2,000 events (about 100 KiB): the reader reads each one,
  // the hung one does not read at all.
  const std::string burst_end = "injected event 2000 of 2000";
  int bursts = 0;
  while (bursts < 40
         && engine->output().find("let go of a follower")
                == std::string::npos) {
    ASSERT_EQ(control("fault flood 2000"), "sent 2000 events\n");
    ++bursts;
    auto r = read_to_end(reader, 10s, burst_end);
    ASSERT_NE(r.text.find(burst_end), std::string::npos)
        << "burst " << bursts << " ended: " << r.ended;
  }
  ASSERT_TRUE(engine->wait_for_output("let go of a follower that stopped "
                                      "reading",
                                      5s))
      << bursts << " bursts";
  EXPECT_GE(bursts, 3) << "a backlog of 256 KiB is allowed";
  auto r = read_to_end(hung, 10s);
  EXPECT_TRUE(r.ended) << "the hung follower's connection was cut";
  auto lines = std::count(r.text.begin(), r.text.end(), '\n');
  EXPECT_LT(lines, bursts * 2000);
  ::close(hung);
  // The reader goes on.
  EXPECT_EQ(control("fault flood 10"), "sent 10 events\n");
  EXPECT_NE(read_to_end(reader, 10s, "injected event 10 of 10")
                .text.find("injected event 10 of 10"),
            std::string::npos);
  ::close(reader);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (engine_descriptors() > baseline
         && std::chrono::steady_clock::now() < deadline)
    control("status");
  EXPECT_LE(engine_descriptors(), baseline);
}

// The system service's sandbox grants only the capabilities its unit
// lists (app/desktop/drover.service), no new privileges, and the group
// "drover" as a supplementary group instead of CAP_CHOWN. The engine
// started that way (setpriv, as systemd would) still captures a program of
// a served user that was running before it: its sockets are taken over
// (pidfd_getfd, SOCK_DESTROY), its TCP and UDP go through the proxy, and
// the control socket is the group's.
// A follower hears from the engine every 10 s even when nothing happens
// (net::control::follow_heartbeat_seconds), so a client tells a quiet
// engine from a stuck one; `drover status --follow` never shows it.
TEST_F(security_e2e, a_quiet_follower_hears_a_heartbeat_the_cli_hides) {
  start_engine();
  ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << engine->output();
  child cli{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "status",
             "--follow"},
            w->env()};
  ASSERT_TRUE(cli.wait_for_output("\n", 10s)) << "the recent events";
  int fd = connect_control();
  ASSERT_GE(fd, 0);
  std::string command = "follow json\n";
  (void)!::write(fd, command.data(), command.size());
  // One timer for every follower: a heartbeat the later follower hears
  // reached the command line's too.
  const std::string beat = "{\"type\":\"heartbeat\"}\n";
  auto r = read_to_end(fd, 25s, beat);
  ::close(fd);
  ASSERT_NE(r.text.find(beat), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find(beat), r.text.size() - beat.size())
      << "nothing after it: " << r.text;
  // An event after it: once the command line printed that, it had read
  // the heartbeat before.
  ASSERT_EQ(control("fault flood 1"), "sent 1 events\n");
  EXPECT_TRUE(cli.wait_for_output("injected event 1 of 1", 10s))
      << cli.output();
  cli.kill(SIGTERM);
  cli.wait(10s);
  EXPECT_EQ(cli.output().find("heartbeat"), std::string::npos) << cli.output();
  EXPECT_NE(cli.output().find("active: proxying"), std::string::npos)
      << cli.output();
}
