// The privileged engine cannot be turned against its own user (or the
// machine), security_world.hpp: planted links, the config's rights, the
// password, the group's share, the service unit, forged datagrams, what
// `drover run` hands on. docs/security.md lists what these tests enforce.

#include "tests/e2e/security_world.hpp"

using namespace drover::e2e;

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
