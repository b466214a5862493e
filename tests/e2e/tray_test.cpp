// The tray end to end: the real drover binary as the tray under Xvfb with
// trayer as the tray host, the real engine, the real dante, in the test's
// network namespaces. The tray runs as an unprivileged user ("nobody") and
// follows a root engine that shares its control socket with that user (the
// desktop privilege model, docs/desktop.md). The icon's colour is read off
// the screen; the menu is driven with the keyboard.
//
// DROVER_SCREENSHOTS=DIR saves the screenshots the README shows there
// (scripts/screenshots.sh); otherwise they go to the test's folder.

#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tests/e2e/world.hpp"
#include "tests/support/desktop.hpp"

using namespace drover::e2e;
using drover::test::desktop;

namespace {

constexpr uid_t nobody = 65534;

// The environment for a tray: the display, and in the sanitizer build no
// leak check (Qt's plugins keep caches they never free and are unloaded
// before LeakSanitizer reports; see tray_widgets_test.cpp).
std::vector<std::string> gui_env(const desktop& d) {
  auto env = d.env();
#ifdef __SANITIZE_ADDRESS__
  env.push_back("ASAN_OPTIONS=detect_leaks=0");
#endif
  return env;
}

struct tray_world {
  world& w;
  desktop& d;
  fs::path home, runtime, config;
  std::unique_ptr<child> engine, tray, target;
  fs::path named;

  tray_world(world& w_, desktop& d_) : w(w_), d(d_) {
    home = w.dir / "home";
    runtime = w.dir / "run-user";
    fs::create_directories(home / ".config" / "drover");
    fs::create_directories(runtime);
    config = home / ".config" / "drover" / "config.toml";
    // A target program by name, and `drover check`'s targets inside the
    // test's namespaces (the http server, coturn).
    named = w.dir / "e2e-tray-target";
    fs::copy_file(DROVER_PEER, named, fs::copy_options::overwrite_existing);
    std::ofstream{config} << "[proxy]\nhost = \"" << w.proxy_ip
                          << "\"\nport = 1080\n[targets]\nprocesses = [\""
                          << named.filename().string() << "\"]\n[check]\n"
                          << "tcp_target = \"" << w.server_ip << ":80\"\n"
                          << "udp_target = \"" << w.server_ip << ":3478\"\n";
    ::chmod(config.c_str(), 0600);
    for (auto& p : {w.dir, home, runtime})
      ::chmod(p.c_str(), p == runtime ? 0700 : 0755);
    sh("chown -R " + std::to_string(nobody) + ":" + std::to_string(nobody) + " "
       + home.string() + " " + runtime.string());
  }

  // The engine as root, started for user nobody (as sudo would).
  void start_engine() {
    auto env = w.env();
    env.push_back("SUDO_UID=" + std::to_string(nobody));
    engine = std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w.app.name(),
                                 DROVER_BINARY, "--headless", "--config",
                                 config.string()},
        env);
  }

  std::vector<std::string> user_env() const {
    auto env = gui_env(d);
    env.push_back("HOME=" + home.string());
    env.push_back("XDG_RUNTIME_DIR=" + runtime.string());
    env.push_back("XDG_CONFIG_HOME=" + (home / ".config").string());
    env.push_back("XDG_STATE_HOME=" + (home / ".local" / "state").string());
    return env;
  }

  // `drover` (the tray) as user nobody.
  std::unique_ptr<child> launch_tray() {
    return std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w.app.name(), "setpriv",
                                 "--reuid=" + std::to_string(nobody),
                                 "--regid=" + std::to_string(nobody),
                                 "--clear-groups", DROVER_BINARY, "--config",
                                 config.string()},
        user_env());
  }

  // `drover` (the tray) as root with no engine running: it starts its own.
  std::unique_ptr<child> launch_root_tray() {
    auto env = gui_env(d);
    for (auto& e : w.env())
      env.push_back(e);
    // A runtime folder of its own: one tray per user is the rule, and
    // parallel tests' root trays are all root's.
    auto root_runtime = w.dir / "run-root";
    fs::create_directories(root_runtime);
    ::chmod(root_runtime.c_str(), 0700);
    env.push_back("XDG_RUNTIME_DIR=" + root_runtime.string());
    return std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", w.app.name(),
                                 DROVER_BINARY, "--config", config.string()},
        env);
  }

  // Opens the tray menu and waits until it shows. A click that arrives
  // while the tray host re-embeds a changed icon can be lost: up to three.
  bool open_menu() {
    auto before = d.windows("drover").size();
    for (int attempt = 0; attempt < 3; ++attempt) {
      d.x("xdotool mousemove 0 300");
      d.click_icon(3);
      if (d.wait_until([&] { return d.windows("drover").size() > before; }, 2s))
        return true;
    }
    ADD_FAILURE() << "no tray menu after three clicks";
    return false;
  }

  std::string state() {
    auto [code, out] = w.status(true);
    std::smatch m;
    return std::regex_search(out, m, std::regex{"\"state\":\"(\\w+)\""})
               ? m[1].str()
               : "none";
  }
};

fs::path screenshots(world& w) {
  if (const char* dir = std::getenv("DROVER_SCREENSHOTS"); dir && *dir)
    return dir;
  return w.dir;
}

// The "N ms after the engine's event" of the tray's line for `icon`.
long lateness(const std::string& out, const std::string& icon, size_t from) {
  std::smatch m;
  auto tail = out.substr(std::min(from, out.size()));
  if (!std::regex_search(
          tail, m, std::regex{"icon " + icon + " [^\n]*? (-?\\d+) ms after"}))
    return -1;
  return std::stol(m[1].str());
}

class tray_e2e : public engine_e2e {
protected:
  void SetUp() override {
    engine_e2e::SetUp();
    if (IsSkipped())
      return;
    for (auto tool : {"Xvfb", "trayer", "xdotool", "import", "setpriv"})
      if (!drover::test::have_command(tool))
        GTEST_SKIP() << "needs " << tool;
    d = std::make_unique<desktop>();
    ASSERT_TRUE(d->ready())
        << "no X server with a tray host: " << d->diagnostics();
    t = std::make_unique<tray_world>(*w, *d);
  }
  std::unique_ptr<desktop> d;
  std::unique_ptr<tray_world> t;
};

} // namespace

// A user's tray follows a root engine: the icon is green while it proxies,
// the menu's Stop and Start work, a proxy that dies turns it yellow within
// 200 ms of the engine saying so and green again when the proxy is back;
// Quit leaves an engine the tray did not start running.
TEST_F(tray_e2e, a_users_tray_follows_and_drives_a_root_engine) {
  t->start_engine();
  ASSERT_TRUE(event_watch{t->w}.wait(became("active"), 20s))
      << t->engine->output();
  EXPECT_NE(t->engine->output().find("user 65534 (SUDO_UID)"),
            std::string::npos)
      << t->engine->output();
  auto tray = t->launch_tray();
  ASSERT_TRUE(
      tray->wait_for_output("tray: engine at /run/drover/control-", 15s))
      << tray->output();
  ASSERT_TRUE(d->wait_icon("green", 5s)) << d->icon_colour();

  // The menu, with its status row; its first item is Stop.
  ASSERT_TRUE(t->open_menu()) << tray->output() << t->engine->output();
  d->screenshot(screenshots(*w) / "tray-menu.png",
                drover::test::rect{1024 - 420, 0, 420, 280});
  d->keys("Down Return");
  ASSERT_TRUE(tray->wait_for_output("asking the engine to stop", 5s))
      << tray->output();
  EXPECT_TRUE(d->wait_icon("grey", 5s)) << d->icon_colour();
  EXPECT_EQ(t->state(), "idle");
  ASSERT_TRUE(t->open_menu());
  d->keys("Down Return");
  ASSERT_TRUE(tray->wait_for_output("asking the engine to start", 5s));
  EXPECT_TRUE(d->wait_icon("green", 10s)) << d->icon_colour();
  EXPECT_EQ(t->state(), "active");

  // The proxy dies: a target's connection fails, the engine reconnects.
  t->target = w->tcp_rounds(*t->engine, t->named, nobody);
  auto from = tray->output().size();
  w->stop_proxy();
  t->target->write_line("go");
  ASSERT_TRUE(tray->wait_for_output("icon warning (Reconnecting", 20s, from))
      << tray->output() << t->engine->output() << t->target->output();
  auto late = lateness(tray->output(), "warning", from);
  EXPECT_GE(late, 0) << tray->output();
  EXPECT_LT(late, 200) << "the icon turned yellow " << late
                       << " ms after the engine's event";
  EXPECT_EQ(d->icon_colour(), "yellow");
  from = tray->output().size();
  w->start_proxy();
  ASSERT_TRUE(w->wait_for_proxy());
  ASSERT_TRUE(tray->wait_for_output("icon active (Active", 40s, from))
      << tray->output();
  auto back = lateness(tray->output(), "active", from);
  EXPECT_GE(back, 0) << tray->output();
  EXPECT_LT(back, 200);
  EXPECT_TRUE(d->wait_icon("green", 2s)) << d->icon_colour();

  // Quit (the last item): the tray exits, the engine it did not start runs.
  ASSERT_TRUE(t->open_menu());
  d->keys("Up Return");
  EXPECT_EQ(tray->wait(10s), 0) << tray->output();
  EXPECT_TRUE(t->engine->running());
  EXPECT_EQ(t->state(), "active");
}

// The window: every tab (screenshots for the README), Run check against
// the test's proxy, the first close's notification remembered in the config
// (which stays the user's file), and a second launch that raises the first.
TEST_F(tray_e2e, the_window_the_check_one_instance_and_the_first_close) {
  auto stun = w->stun_server();
  t->start_engine();
  ASSERT_TRUE(event_watch{t->w}.wait(became("active"), 20s))
      << t->engine->output();
  auto tray = t->launch_tray();
  ASSERT_TRUE(tray->wait_for_output("tray: engine at", 15s)) << tray->output();
  ASSERT_TRUE(d->wait_icon("green", 5s));
  // Some traffic and a flow for the Status and Flows tabs.
  t->target = w->tcp_rounds(*t->engine, t->named, nobody);
  t->target->write_line("go");
  ASSERT_TRUE(t->target->wait_for_output("round ok", 20s));
  // And a connection held open while the tabs are shot, so the Flows tab
  // shows one (a round's connection has ended by then).
  child holder{{"ip", "netns", "exec", w->app.name(), "setpriv",
                "--reuid=" + std::to_string(nobody),
                "--regid=" + std::to_string(nobody), "--clear-groups",
                t->named.string(), "hold", server_ip, "7", "1"}};
  ASSERT_TRUE(holder.wait_for_output("held 1", 20s)) << holder.output();

  // Run check: opens the window on the Check tab and runs `drover check`.
  ASSERT_TRUE(t->open_menu());
  d->keys("Down Down Return");
  ASSERT_TRUE(tray->wait_for_output("check passed", 30s)) << tray->output();
  auto windows = d->windows("drover", "^Drover$");
  ASSERT_EQ(windows.size(), 1u);
  auto window = windows.front();
  drover::test::rect frame{0, 0, 720, 460};
  d->screenshot(screenshots(*w) / "window-check.png", frame);
  // The Apps tab lists the running target (the window refreshes its
  // status while shown).
  EXPECT_TRUE(tray->wait_for_output(
      "apps running: " + t->named.filename().string(), 10s))
      << tray->output();
  // Status, Apps, Timeline, Flows, Settings: Ctrl+Tab from Check wraps to
  // Status.
  d->x("xdotool windowfocus " + window);
  for (auto tab : {"status", "apps", "timeline", "flows", "settings"}) {
    d->keys("ctrl+Tab");
    // The window redraws within a frame; the status refresh is 1 s.
    std::this_thread::sleep_for(1500ms);
    d->screenshot(screenshots(*w) / ("window-" + std::string{tab} + ".png"),
                  frame);
  }
  holder.write_line("done");
  EXPECT_EQ(holder.wait(10s), 0) << holder.output();

  // A click on the icon hides the window; a second launch raises the first
  // and exits 0.
  d->click_icon(1);
  ASSERT_TRUE(d->wait_until(
      [&] { return d->windows("drover", "^Drover$").empty(); }, 5s));
  auto second = t->launch_tray();
  EXPECT_EQ(second->wait(15s), 0) << second->output();
  EXPECT_NE(second->output().find("already running"), std::string::npos)
      << second->output();
  EXPECT_TRUE(tray->wait_for_output("another launch asked for the window", 5s));
  ASSERT_TRUE(d->wait_until(
      [&] { return !d->windows("drover", "^Drover$").empty(); }, 5s));

  // A click hides it again; a double click shows it (never toggles it away).
  d->click_icon(1);
  ASSERT_TRUE(d->wait_until(
      [&] { return d->windows("drover", "^Drover$").empty(); }, 5s));
  auto area = *d->tray_area();
  d->x("xdotool mousemove " + std::to_string(area.x + area.width / 2) + " "
       + std::to_string(area.y + area.height / 2)
       + " click --repeat 2 --delay 20 1");
  ASSERT_TRUE(d->wait_until(
      [&] { return !d->windows("drover", "^Drover$").empty(); }, 5s));

  // The first close hides to the tray with a notification, remembered in the
  // config file, which stays the user's own.
  auto shown = d->windows("drover", "^Drover$");
  ASSERT_FALSE(shown.empty());
  d->x("xdotool windowfocus " + shown.front());
  d->keys("ctrl+w");
  ASSERT_TRUE(tray->wait_for_output("shown the first-close notification", 5s))
      << tray->output();
  EXPECT_TRUE(d->wait_until(
      [&] { return d->windows("drover", "^Drover$").empty(); }, 5s));
  ASSERT_TRUE(t->engine->wait_for_output("config", 10s));
  EXPECT_TRUE(d->wait_until(
      [&] {
        std::ifstream in{t->config};
        std::stringstream s;
        s << in.rdbuf();
        return s.str().find("shown_tray_toast = true") != std::string::npos;
      },
      5s));
  struct stat st {};
  ASSERT_EQ(::stat(t->config.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody) << "the engine took the user's config file";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// As root with no engine running, the tray starts its own engine; Quit
// stops that engine cleanly before the tray exits.
TEST_F(tray_e2e, a_tray_that_started_its_engine_stops_it_on_quit) {
  auto tray_owner = t->launch_root_tray();
  auto& tray = *tray_owner;
  ASSERT_TRUE(tray.wait_for_output("tray: starting the engine", 10s))
      << tray.output();
  ASSERT_TRUE(tray.wait_for_output("tray: engine at", 20s)) << tray.output();
  ASSERT_TRUE(d->wait_icon("green", 20s)) << tray.output();
  EXPECT_EQ(t->state(), "active");
  ASSERT_TRUE(t->open_menu());
  d->keys("Up Return");
  EXPECT_EQ(tray.wait(20s), 0) << tray.output();
  EXPECT_NE(tray.output().find("stopping"), std::string::npos) << tray.output();
  EXPECT_EQ(t->state(), "none") << "the engine still runs";
  EXPECT_FALSE(w->drover_cgroup_exists());
}

// The privilege model's gate: a root engine's control socket admits root,
// the user it was started for (SUDO_UID), and the group "drover" (the
// system service's users), nobody else. The group exists only in this
// engine's mount namespace (a copy of /etc/group); the machine's own files
// are not touched.
TEST_F(engine_e2e, the_control_socket_admits_only_the_desktop_user_and_group) {
  auto as_nobody = [&](const std::string& what,
                       std::vector<std::string> more = {}) {
    std::vector<std::string> argv{"ip",
                                  "netns",
                                  "exec",
                                  w->app.name(),
                                  "setpriv",
                                  "--reuid=65534",
                                  "--regid=65534",
                                  "--clear-groups",
                                  DROVER_BINARY,
                                  what};
    argv.insert(argv.end(), more.begin(), more.end());
    child c{argv, {"XDG_RUNTIME_DIR=" + (w->dir / "nobody-run").string()}};
    int code = c.wait(20s);
    return std::pair{code, c.output()};
  };
  fs::create_directories(w->dir / "nobody-run");
  sh("chown 65534:65534 " + (w->dir / "nobody-run").string());
  auto config = w->config();
  {
    // Started by root itself: root only.
    child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                  "--headless", "--config", config.string()},
                 w->env()};
    ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << engine.output();
    EXPECT_NE(engine.output().find("(for root)"), std::string::npos);
    auto [code, out] = as_nobody("status");
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("not yours to use"), std::string::npos) << out;
    EXPECT_EQ(out.find("not running"), std::string::npos)
        << "an engine runs: " << out;
    // `drover run` beside it: refused for the same reason, not an engine
    // of its own tried (which would need root, and be refused beside it).
    auto [run_code, run_out] = as_nobody("run", {"--", "true"});
    EXPECT_EQ(run_code, 1) << run_out;
    EXPECT_NE(run_out.find("drover run: Drover's control socket"),
              std::string::npos)
        << run_out;
    EXPECT_EQ(w->status(false).first, 0);
  }
  {
    // Started as a service whose users are in the group "drover".
    auto group = w->dir / "group";
    sh("cp /etc/group " + group.string() + " && echo 'drover:x:4242:' >> "
       + group.string());
    child engine{{"unshare", "--mount", "sh", "-c",
                  "mount --bind " + group.string()
                      + " /etc/group && exec ip netns exec " + w->app.name()
                      + " " + DROVER_BINARY + " --headless --config "
                      + config.string()},
                 w->env()};
    ASSERT_TRUE(event_watch{*w}.wait(became("active"), 20s)) << engine.output();
    EXPECT_NE(engine.output().find("(for root, group drover)"),
              std::string::npos)
        << engine.output();
    std::smatch m;
    auto out = engine.output();
    ASSERT_TRUE(
        std::regex_search(out, m, std::regex{"control socket (\\S+) \\(for"}));
    struct stat st {};
    ASSERT_EQ(::stat(m[1].str().c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, 4242u);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    // nobody is not in the group: still refused.
    EXPECT_EQ(as_nobody("status").first, 1);
    // A member of the group is let in.
    child member{{"ip", "netns", "exec", w->app.name(), "setpriv",
                  "--reuid=65534", "--regid=65534", "--groups=4242",
                  DROVER_BINARY, "status"},
                 {"XDG_RUNTIME_DIR=" + (w->dir / "nobody-run").string()}};
    EXPECT_EQ(member.wait(20s), 0) << member.output();
    EXPECT_NE(member.output().find("State:    Active"), std::string::npos)
        << member.output();
  }
}

// SIGTERM (a logout, a kill) quits the tray as Quit does: the engine it
// started is stopped, not left running without a face.
TEST_F(tray_e2e, a_terminated_tray_stops_the_engine_it_started) {
  auto tray_owner = t->launch_root_tray();
  auto& tray = *tray_owner;
  ASSERT_TRUE(tray.wait_for_output("tray: engine at", 20s)) << tray.output();
  ASSERT_TRUE(d->wait_icon("green", 20s)) << tray.output();
  // To the tray alone (`ip netns exec` became it; its process group would
  // reach the engine too).
  ::kill(tray.pid(), SIGTERM);
  EXPECT_EQ(tray.wait(20s), 0) << tray.output();
  EXPECT_NE(tray.output().find("tray: quitting"), std::string::npos)
      << tray.output();
  EXPECT_EQ(t->state(), "none") << "the engine still runs";
  EXPECT_FALSE(w->drover_cgroup_exists());
}

namespace {

// One command on a control socket, the whole answer (the tray's way).
std::string ask(const std::string& socket, const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "cannot connect";
  }
  for (size_t sent = 0; sent < request.size();) {
    auto n = ::send(fd, request.data() + sent, request.size() - sent,
                    MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return answer;
}

} // namespace

// The Settings tab's path: `config set` refuses a broken file with the
// validator's words and its place and leaves the file and the engine as
// they were; a good one is written (owner and mode kept) and applied.
TEST_F(tray_e2e, config_set_refuses_a_broken_file_and_applies_a_good_one) {
  t->start_engine();
  ASSERT_TRUE(event_watch{t->w}.wait(became("active"), 20s))
      << t->engine->output();
  std::smatch m;
  auto out = t->engine->output();
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex{"control socket (\\S+) \\(for"}));
  auto socket = m[1].str();
  auto before = [&] {
    std::ifstream in{t->config};
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  auto set = [&](const std::string& text) {
    return ask(socket,
               "config set " + std::to_string(text.size()) + "\n" + text);
  };
  auto refused = set("[proxy]\nhost = \"10.210.0.2\"\nport = 70000\n");
  EXPECT_EQ(refused.rfind("error\n", 0), 0u) << refused;
  EXPECT_NE(refused.find("`proxy.port` must be 1..65535, got 70000"),
            std::string::npos)
      << refused;
  EXPECT_NE(refused.find(":3:8"), std::string::npos) << refused;
  EXPECT_EQ(ask(socket, "config get\n"), before);
  EXPECT_EQ(t->state(), "active");

  // (The engine wrote the file in the current version at start: it has a
  // [ui] section already.)
  auto good = before;
  auto level = good.find("log_level = \"info\"");
  if (level == std::string::npos)
    good += "[ui]\nlog_level = \"debug\"\n";
  else
    good.replace(level, std::string{"log_level = \"info\""}.size(),
                 "log_level = \"debug\"");
  event_watch events{t->w};
  auto from = events.mark();
  EXPECT_EQ(set(good), "ok\n");
  EXPECT_EQ(ask(socket, "config get\n"), good);
  EXPECT_TRUE(events.wait("\"kind\":\"config_applied\"", 10s, from))
      << events.output();
  struct stat st {};
  ASSERT_EQ(::stat(t->config.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Too big, or not a number: refused before anything is read.
  EXPECT_EQ(ask(socket, "config set 99999999\n").rfind("error\n", 0), 0u);
  EXPECT_EQ(ask(socket, "config set x\n").rfind("error\n", 0), 0u);
}

// `ui.auto_start` mirrors the desktop's start entry both ways: at the
// tray's start the entry (the truth: the desktop's own settings may change
// it) moves the file; a later change in the file moves the entry.
TEST_F(tray_e2e, auto_start_and_the_desktops_entry_agree) {
  auto entry = t->home / ".config" / "autostart" / "drover.desktop";
  fs::create_directories(entry.parent_path());
  std::ofstream{entry} << "[Desktop Entry]\nType=Application\nName=Drover\n"
                       << "Exec=" << DROVER_BINARY << "\n";
  sh("chown -R " + std::to_string(nobody) + ":" + std::to_string(nobody) + " "
     + t->home.string());
  t->start_engine();
  ASSERT_TRUE(event_watch{t->w}.wait(became("active"), 20s))
      << t->engine->output();
  auto tray = t->launch_tray();
  ASSERT_TRUE(tray->wait_for_output(
      "the config file now says autostart on, as the system does", 20s))
      << tray->output();
  auto read_config = [&] {
    std::ifstream in{t->config};
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  ASSERT_TRUE(drover::test::eventually(
      [&] {
        return read_config().find("auto_start = true") != std::string::npos;
      },
      10s, 100ms))
      << read_config();
  // The file changes (by hand): the entry follows.
  auto text = read_config();
  text.replace(text.find("auto_start = true"), 17, "auto_start = false");
  std::ofstream{t->config, std::ios::trunc} << text;
  ASSERT_TRUE(tray->wait_for_output("autostart off, as the config file now "
                                    "says",
                                    20s))
      << tray->output();
  EXPECT_FALSE(fs::exists(entry));
}
