// The privileged engine cannot be turned against its own user (or the
// machine): a root engine started for user "nobody" (as sudo would), its
// config in nobody's folder, driven over its control socket as each kind
// of caller would. docs/security.md lists what these tests enforce.

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <functional>
#include <random>

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

constexpr uid_t nobody = 65534;

class security_e2e : public engine_e2e {
protected:
  void SetUp() override {
    engine_e2e::SetUp();
    if (!w)
      return;
    home = w->dir / "home";
    folder = home / ".config" / "drover";
    fs::create_directories(folder);
    config = folder / "config.toml";
    write_config("[proxy]\nhost = \"" + proxy_ip + "\"\nport = 1080\n");
    ::chmod(w->dir.c_str(), 0755);
    sh("chown -R " + std::to_string(nobody) + ":" + std::to_string(nobody) + " "
       + home.string());
    // Something only root may read or write, outside nobody's reach.
    secret = w->dir / "root-only" / "secret";
    fs::create_directories(secret.parent_path());
    ::chmod(secret.parent_path().c_str(), 0700);
    std::ofstream{secret} << "TOP SECRET\n";
    ::chmod(secret.c_str(), 0600);
  }

  void write_config(const std::string& text) {
    std::ofstream{config} << text;
    ::chmod(config.c_str(), 0600);
    sh("chown " + std::to_string(nobody) + ":" + std::to_string(nobody) + " "
       + config.string());
  }

  // The engine as root, started for nobody.
  void start_engine() {
    auto env = w->env();
    env.push_back("SUDO_UID=" + std::to_string(nobody));
    engine = std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w->app.name(),
                                 DROVER_BINARY, "--headless", "--config",
                                 config.string()},
        env);
    ASSERT_TRUE(engine->wait_for_output("control socket", 20s))
        << engine->output();
  }

  std::string socket_path() { return w->control_socket(); }

  // A connection to the control socket, as root (-1 if none).
  int connect_control() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket_path().c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  // What the engine sends on `fd` until it ends the connection (then
  // `ended`), `until` arrives or `limit` passes.
  struct received {
    std::string text;
    bool ended = false;
  };
  static received read_to_end(int fd, std::chrono::milliseconds limit,
                              const std::string& until = "") {
    received r;
    auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[65536];
    for (auto now = std::chrono::steady_clock::now(); now < deadline;
         now = std::chrono::steady_clock::now()) {
      pollfd p{fd, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline
                                                                        - now);
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0)
        continue;
      auto n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        r.ended = true;
        break;
      }
      auto fresh = static_cast<size_t>(n);
      auto from
          = r.text.size() > until.size() ? r.text.size() - until.size() : 0;
      r.text.append(buf, fresh);
      if (!until.empty() && r.text.find(until, from) != std::string::npos)
        break;
    }
    return r;
  }

  // One command (and its body) over the control socket, as root; the
  // whole answer.
  std::string control(const std::string& command,
                      const std::string& body = "") {
    int fd = connect_control();
    if (fd < 0)
      return "cannot connect to " + socket_path();
    auto out = command + "\n" + body;
    (void)!::write(fd, out.data(), out.size());
    auto answer = read_to_end(fd, 20s);
    ::close(fd);
    return answer.text;
  }

  // How many descriptors the engine holds (`ip netns exec` execs it).
  size_t engine_descriptors() {
    size_t n = 0;
    std::error_code ec;
    for (auto it
         = fs::directory_iterator{"/proc/" + std::to_string(engine->pid())
                                      + "/fd",
                                  ec};
         !ec && it != fs::directory_iterator{}; it.increment(ec))
      ++n;
    return n;
  }

  std::string read(const fs::path& p) { return read_text(p); }

  fs::path home, folder, config, secret;
  std::unique_ptr<child> engine;
};

} // namespace

// A symlink planted where the engine writes its temporary, or where the
// config should be: the engine acts with nobody's rights in nobody's
// folder, so the kernel refuses what nobody could not do, and nothing
// outside the folder changes.
TEST_F(security_e2e, planted_links_in_the_users_folder_touch_nothing_else) {
  fs::create_symlink(secret, folder / "config.toml.drover-tmp");
  for (int i = 0; i < 4; ++i)
    fs::create_symlink(
        secret,
        folder / (".config.toml.drover-000000000000000" + std::to_string(i)));
  fs::remove(config);
  fs::create_symlink(secret, config);
  sh("chown -h " + std::to_string(nobody) + ":" + std::to_string(nobody) + " "
     + folder.string() + "/* " + folder.string() + "/.config*");
  start_engine();
  auto got = control("config get");
  EXPECT_EQ(got.find("TOP SECRET"), std::string::npos) << got;
  EXPECT_NE(got.find("symbolic link"), std::string::npos) << got;
  auto text = "[proxy]\nhost = \"" + proxy_ip + "\"\nport = 1081\n";
  auto set = control("config set " + std::to_string(text.size()), text);
  EXPECT_EQ(set, "ok\n");
  EXPECT_EQ(read(secret), "TOP SECRET\n") << "the root-only file is untouched";
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The config is a file of nobody's now, the planted link replaced.
  ASSERT_EQ(::lstat(config.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, nobody);
  EXPECT_EQ(read(config), text);
}

// A config folder that is itself a link into root's territory: still only
// nobody's rights.
TEST_F(security_e2e, a_linked_config_folder_gives_no_more_rights) {
  fs::remove_all(folder);
  fs::create_symlink(secret.parent_path(), folder);
  sh("chown -h " + std::to_string(nobody) + " " + folder.string());
  start_engine();
  auto text = "[proxy]\nhost = \"" + proxy_ip + "\"\nport = 1081\n";
  auto set = control("config set " + std::to_string(text.size()), text);
  EXPECT_NE(set.find("Permission denied"), std::string::npos) << set;
  EXPECT_FALSE(fs::exists(secret.parent_path() / "config.toml"))
      << "nothing written where nobody may not write";
}

TEST_F(security_e2e, config_get_never_contains_the_password) {
  write_config("[proxy]\nhost = \"" + proxy_ip
               + "\"\nport = 1080\nauth = true\nlogin = \"alice\"\npassword = "
                 "\"hunter2\"\n");
  start_engine();
  auto got = control("config get");
  EXPECT_EQ(got.find("hunter2"), std::string::npos) << got;
  EXPECT_NE(got.find("<stored password>"), std::string::npos) << got;
  // The text comes back (the tray's Settings, a port changed): the stored
  // password stays.
  auto edited = got;
  edited.replace(edited.find("port = 1080"), 11, "port = 1081");
  auto set = control("config set " + std::to_string(edited.size()), edited);
  EXPECT_EQ(set, "ok\n");
  auto now = read(config);
  EXPECT_NE(now.find("password = \"hunter2\""), std::string::npos) << now;
  EXPECT_NE(now.find("port = 1081"), std::string::npos) << now;
  EXPECT_EQ(engine->output().find("hunter2"), std::string::npos)
      << "nor in the log";
}

// The group "drover" (a system service's users) may look and Start/Stop,
// not change the settings, quit the engine or turn the trace log on: those
// are for root and the user the engine runs for. The group exists only in
// this engine's mount namespace (a copy of /etc/group).
TEST_F(security_e2e, the_group_may_look_but_not_change) {
  auto group = w->dir / "group";
  sh("cp /etc/group " + group.string() + " && echo 'drover:x:4242:' >> "
     + group.string());
  child service{{"unshare", "--mount", "sh", "-c",
                 "mount --bind " + group.string()
                     + " /etc/group && exec ip netns exec " + w->app.name()
                     + " " + DROVER_BINARY + " --headless --config "
                     + w->config().string()},
                w->env()};
  ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << service.output();
  // A member of the group, over the control socket (a plain Python
  // client): one command, the answer.
  auto as_member = [&](const std::string& command, const std::string& body) {
    auto script = control_client_script(w->dir);
    child c{{"ip", "netns", "exec", w->app.name(), "setpriv", "--reuid=65534",
             "--regid=65534", "--groups=4242", "/usr/bin/python3",
             script.string(), socket_path(), command, body}};
    c.wait(20s);
    return c.output();
  };
  auto status = as_member("status", "");
  EXPECT_NE(status.find("State:    Active"), std::string::npos) << status;
  auto text = "[proxy]\nhost = \"" + proxy_ip + "\"\nport = 1081\n";
  for (auto [command, body] :
       {std::pair<std::string, std::string>{
            "config set " + std::to_string(text.size()), text},
        {"quit", ""},
        {"trace on", ""},
        {"fault panic", ""}})
    EXPECT_NE(as_member(command, body).find("refused: only root"),
              std::string::npos)
        << command;
  EXPECT_TRUE(service.running()) << "quit was refused";
  EXPECT_EQ(read(w->dir / "config.toml").find("1081"), std::string::npos)
      << "the config was not changed";
  // Root may.
  EXPECT_EQ(control("trace off"), "ok\n");
}

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

TEST_F(security_e2e, the_service_units_capabilities_are_enough) {
  std::ifstream unit{std::string{DROVER_SOURCE_DIR}
                     + "/app/desktop/drover.service"};
  std::string caps = "-all";
  for (std::string line; std::getline(unit, line);)
    if (line.rfind("CapabilityBoundingSet=", 0) == 0) {
      std::istringstream names{line.substr(22)};
      for (std::string name; names >> name;) {
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        caps += ",+" + name.substr(4); // without "cap_"
      }
    }
  ASSERT_NE(caps, "-all") << "the unit lists its capabilities";
  // The group "drover" with nobody in it, in the engine's mount namespace.
  auto group = w->dir / "group";
  sh("cp /etc/group " + group.string() + " && echo 'drover:x:4242:nobody' >> "
     + group.string());
  auto named = w->dir / "e2e-svc-target";
  fs::copy_file(DROVER_PEER, named);
  ::chmod(named.c_str(), 0755);
  child target{{"ip", "netns", "exec", w->app.name(), "setpriv",
                "--reuid=65534", "--regid=65534", "--clear-groups",
                named.string(), "chatter", server_ip, "7"}};
  ASSERT_TRUE(target.wait_for_output("udp seen " + app_ip, 20s))
      << "direct before the engine: " << target.output();
  auto cfg = w->config("[targets]\nprocesses = [\"e2e-svc-target\"]\n");
  // As systemd runs it: cgroup2 mounted (ip netns exec mounts a sysfs of
  // its own without it), the engine in a cgroup of its own that is
  // delegated to it (Delegate=yes), removed again whatever happens.
  auto service_cgroup = "drover-e2e-service-" + w->dir.filename().string();
  auto in_cgroup_tree = [&](const std::string& command) {
    return sh("ip netns exec " + w->app.name()
              + " sh -c 'mount -t cgroup2 none /sys/fs/cgroup && " + command
              + "'");
  };
  struct removed_after {
    std::function<void()> remove;
    ~removed_after() { remove(); }
  } cleanup{[&] {
    // The engine's own group inside first (left when the test failed and
    // killed it), then the service's.
    in_cgroup_tree("rmdir /sys/fs/cgroup/" + service_cgroup
                   + "/drover-* 2>/dev/null; rmdir /sys/fs/cgroup/"
                   + service_cgroup);
  }};
  auto env = w->env();
  env.push_back("DROVER_CGROUP_DELEGATED=1");
  child service{
      {"ip", "netns", "exec", w->app.name(), "unshare", "--mount", "sh", "-c",
       "mount --bind " + group.string()
           + " /etc/group && mount -t cgroup2 none /sys/fs/cgroup"
           + " && mkdir /sys/fs/cgroup/" + service_cgroup
           + " && echo $$ > /sys/fs/cgroup/" + service_cgroup + "/cgroup.procs"
           + " && exec setpriv --groups=4242 --bounding-set=" + caps
           + " --no-new-privs " + DROVER_BINARY + " --headless --config "
           + cfg.string()},
      env};
  ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << caps << "\n"
                                                           << service.output();
  auto from = target.output().size();
  EXPECT_TRUE(target.wait_for_output("tcp seen " + proxy_ip, 20s, from))
      << target.output() << "\n"
      << service.output();
  EXPECT_TRUE(target.wait_for_output("udp seen " + proxy_ip, 20s, from))
      << target.output();
  // The sandbox held: only the listed capabilities, no new privileges.
  auto text = read("/proc/" + std::to_string(service.pid()) + "/status");
  EXPECT_NE(text.find("NoNewPrivs:\t1"), std::string::npos) << text;
  EXPECT_NE(text.find("CapBnd:\t000000c000083400"), std::string::npos)
      << "NET_BIND_SERVICE, NET_ADMIN, NET_RAW, SYS_PTRACE, PERFMON, BPF: "
      << text;
  struct stat st {};
  ASSERT_EQ(::stat(socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 4242u) << "the control socket is the group's";
  EXPECT_EQ(
      in_cgroup_tree("test -d /sys/fs/cgroup/" + service_cgroup + "/drover-*"),
      0)
      << "the engine's cgroup is in its delegated subtree";
  EXPECT_EQ(service.output().find("error"), std::string::npos)
      << service.output();
  service.kill(SIGTERM);
  EXPECT_EQ(service.wait(10s), 0) << service.output();
}

// A UDP association's socket takes datagrams from its relay only: a host
// on the LAN cannot slip a forged reply (a DNS or STUN answer) into the
// application, nor make the engine grow by sending from many addresses.
TEST_F(engine_e2e, a_forged_datagram_never_reaches_the_application) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-forge-target", named);
  child target{{"ip", "netns", "exec", w->app.name(), named.string(), "chatter",
                server_ip, "7"}};
  ASSERT_TRUE(target.wait_for_output("udp seen " + proxy_ip, 20s))
      << target.output();
  // The association's socket: the engine's UDP socket (towards the relay).
  auto sockets = sh_output(w->app.exec("ss -u -a -n -p"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      sockets, m, std::regex{":(\\d+)\\s+\\S+\\s+users:\\(\\(\"drover\""}))
      << sockets;
  auto port = m[1].str();
  auto before = rss_kib(engine->pid());
  // From the servers' address (not the relay's): SOCKS5 UDP datagrams that
  // claim to come from the echo server, 20,000 of them, from 200 ports.
  auto forger = w->dir / "forge.py";
  std::ofstream{forger}
      << "import socket\n"
      << "payload = bytes([0,0,0,1,10,210,0,3,0,7]) + b'peer 6.6.6.6:66 x'\n"
      << "for p in range(200):\n"
      << "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      << "    s.bind(('" << server_ip << "', 0))\n"
      << "    for i in range(100):\n"
      << "        s.sendto(payload, ('" << app_ip << "', " << port << "))\n";
  ASSERT_EQ(sh(w->remote.exec("/usr/bin/python3 " + forger.string())), 0);
  auto from = target.output().size();
  ASSERT_TRUE(target.wait_for_output("udp seen " + proxy_ip, 10s, from))
      << "the application still talks through the proxy";
  EXPECT_EQ(target.output().find("6.6.6.6"), std::string::npos)
      << target.output();
  EXPECT_LT(rss_kib(engine->pid()) - before, 4096)
      << "the engine grew by " << rss_kib(engine->pid()) - before << " KiB";
}

// `drover run` started through sudo: the program runs as the user, not as
// root, and inherits nothing of the engine's but descriptors 0-2 (not the
// packet queue, the log files or the sockets to the proxy).
TEST_F(engine_e2e, drover_run_starts_the_program_as_the_user_with_nothing) {
  w->extra_env.push_back("SUDO_UID=65534");
  auto [code, out] = w->drover_run({"whoami"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("uid=65534 gid=65534 home=/nonexistent fds=0,1,2\n"),
            std::string::npos)
      << out;
}

// sudo drover --headless in a terminal that is closed: SIGHUP stops the
// engine as cleanly as SIGTERM (nothing left behind); its log is the
// owner's alone.
TEST_F(engine_e2e, a_hang_up_stops_cleanly_and_the_log_is_private) {
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", w->config().string()},
               w->env()};
  ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << engine.output();
  auto logs = w->dir / "state" / "drover" / "logs";
  struct stat st {};
  ASSERT_EQ(::stat((logs / "drover.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(logs.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "the log folder is the owner's";
  engine.kill(SIGHUP);
  EXPECT_EQ(engine.wait(10s), 0) << engine.output();
  EXPECT_EQ(w->rules().find("DROVER"), std::string::npos) << w->rules();
  EXPECT_FALSE(w->drover_cgroup_exists());
}
