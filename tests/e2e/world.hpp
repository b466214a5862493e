#pragma once

// The end-to-end world of tests/e2e: network namespaces made by the test
// ("app" and "remote" joined by veth), Debian's dante as the SOCKS5 proxy on
// the remote side (10.210.0.2:1080), echo and HTTP servers on another
// remote address (10.210.0.3) that report the peer they saw, and the real
// drover binary in the app namespace. Needs root; everything is removed
// afterwards, also when a check fails.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/eventually.hpp"
#include "tests/support/proxy_lab.hpp"

namespace drover::e2e {

using namespace std::chrono_literals;
using drover::test::child;
using drover::test::rss_kib;
using drover::test::sh;
using drover::test::sh_output;
namespace fs = std::filesystem;

inline const std::string proxy_ip = drover::test::proxy_lab::proxy_ip;
inline const std::string server_ip = drover::test::proxy_lab::server_ip;
inline const std::string app_ip = drover::test::proxy_lab::app_ip;

// Leftovers of test runs that were killed (a timeout's SIGKILL leaves no
// chance to clean up): namespaces named after processes that are gone, and
// empty drover-* cgroups whose network namespace no longer exists.
inline void remove_leftovers() {
  // Programs (an engine, dante, servers) and folders of a test process that
  // died without its destructors: they would hold a namespace, a cgroup or
  // the kernel programs of a capture nobody stops.
  std::error_code none_yet;
  for (auto& e : fs::directory_iterator{fs::temp_directory_path(), none_yet}) {
    std::smatch m;
    auto name = e.path().filename().string();
    if (!std::regex_match(name, m, std::regex{"drover-[a-z0-9]+-(\\d+)"})
        || ::kill(std::stoi(m[1].str()), 0) == 0)
      continue;
    // "[/]tmp/...": the pattern does not match the shell running pkill.
    sh("pkill -KILL -f '[/]" + e.path().string().substr(1) + "/' 2>/dev/null");
    std::error_code ec;
    fs::remove_all(e.path(), ec);
  }
  std::istringstream names{sh_output("ip netns list")};
  for (std::string line; std::getline(names, line);) {
    std::smatch m;
    if (std::regex_search(line, m, std::regex{"^(drover-t-\\S+-(\\d+))"})
        && ::kill(std::stoi(m[2].str()), 0) != 0)
      sh("ip netns del " + m[1].str());
  }
  std::string live;
  std::error_code none;
  for (auto& e : fs::directory_iterator{"/run/netns", none})
    live += sh_output("stat -L -c %i " + e.path().string());
  live += sh_output("stat -L -c %i /proc/self/ns/net");
  for (auto root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator{root, ec}) {
      // Only the engine's own groups: "drover-" and a namespace inode.
      auto name = e.path().filename().string();
      if (!std::regex_match(name, std::regex{"drover-[0-9]+"})
          || live.find(name.substr(7) + "\n") != std::string::npos)
        continue;
      // `drover run --proxy`'s groups first. Each rmdir fails, harmlessly,
      // if the group is not empty.
      for (int p = 1; p < 8; ++p)
        ::rmdir((e.path() / ("proxy-" + std::to_string(p))).c_str());
      ::rmdir(e.path().c_str());
    }
  }
}

// The topology, made once per test process (ctest runs each case in its own
// process, so parallel cases never share namespaces).
// How an event of `drover status --json --follow` reads, for waiting on it:
// a change to `state`; a reconnect attempt's number; the failure class an
// event carries (a failure, or the sleep and resume that moved the state).
inline std::string became(const std::string& state) {
  return "\"kind\":\"state_changed\",\"state\":\"" + state + "\"";
}
// Any event in `state` (a reconnect attempt is one in "reconnecting").
inline std::string in_state(const std::string& state) {
  return "\"state\":\"" + state + "\"";
}
// A restart the supervisor made (a part restarted, a handle reopened).
inline std::string restarted() {
  return "\"kind\":\"restart\",";
}
inline std::string reconnect_attempt(int n) {
  return "\"failure\":\"proxy_unreachable\",\"attempt\":" + std::to_string(n)
         + "}";
}
inline std::string with_failure(const std::string& failure) {
  return "\"failure\":\"" + failure + "\"";
}

struct world : drover::test::proxy_lab {
  std::unique_ptr<child> echo, http, udp;

  world() : proxy_lab(cleaned("e2e")) {
    echo = server(DROVER_PEER, "tcp-echo", "7");
    http = server(DROVER_PEER, "http", "80");
    udp = server(DROVER_PEER, "udp-echo", "7");
    if (!wait_for_proxy())
      ADD_FAILURE() << "dante did not start: " << dante->output();
  }

  // A test that killed its engine leaves what a killed engine must: the
  // kernel programs at the machine's cgroup root (doing nothing once the
  // namespace is gone, but run for every socket until another engine
  // sweeps them) and the control socket's file. Removed with Drover's own
  // tool, which refuses beside a running engine.
  ~world() {
    sh(app.exec(std::string{DROVER_BINARY} + " unblock >/dev/null 2>&1"));
    std::error_code ec;
    fs::remove(control_socket(), ec);
  }

  world(const world&) = delete;
  world& operator=(const world&) = delete;

  // Removes leftovers of killed runs before the lab is made.
  static std::string cleaned(std::string tag) {
    remove_leftovers();
    return tag;
  }

  fs::path config(const std::string& extra = "") {
    auto p = dir / "config.toml";
    std::ofstream{p} << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1080\n"
                     << extra;
    return p;
  }

  std::vector<std::string> extra_env; // for every drover the test starts

  std::vector<std::string> env() {
    auto e = extra_env;
    e.push_back("XDG_STATE_HOME=" + (dir / "state").string());
    return e;
  }

  std::string log() {
    std::ifstream in{dir / "state" / "drover" / "logs" / "drover.log"};
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // drover run -- peer ARGS..., in the app namespace.
  std::pair<int, std::string> drover_run(std::vector<std::string> peer_args,
                                         const std::string& extra = "") {
    std::vector<std::string> argv{
        "ip",          "netns",    "exec",     app.name(),
        DROVER_BINARY, "run",      "--config", config(extra).string(),
        "--",          DROVER_PEER};
    argv.insert(argv.end(), peer_args.begin(), peer_args.end());
    child c{argv, env()};
    int code = c.wait(60s);
    return {code, c.output()};
  }

  // `drover status [--json]` in the app namespace.
  std::pair<int, std::string> status(bool json) {
    std::vector<std::string> argv{"ip",       "netns",       "exec",
                                  app.name(), DROVER_BINARY, "status"};
    if (json)
      argv.push_back("--json");
    child c{argv, env()};
    int code = c.wait(20s);
    return {code, c.output()};
  }

  // The engine's events as `drover status --json --follow` prints them, one
  // JSON object a line (the recent ones first, then each as it happens):
  // what the tests wait on, by kind, state and failure class, not by the
  // log's wording. Started once the engine answers.
  std::unique_ptr<child> follow_events() {
    if (!drover::test::eventually([&] { return status(false).first == 0; }, 20s,
                                  200ms))
      return nullptr;
    return std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", app.name(),
                                 DROVER_BINARY, "status", "--json", "--follow"},
        env());
  }

  // A JSON number field of `drover status --json`, or -1.
  long status_number(const std::string& field) {
    auto [code, out] = status(true);
    std::smatch m;
    if (code != 0
        || !std::regex_search(out, m, std::regex{"\"" + field + "\":(\\d+)"}))
      return -1;
    return std::stol(m[1].str());
  }

  // An engine in the app namespace whose target is a copy of the peer
  // helper named `name`.
  // `extra` goes after [targets]: more sections, not [proxy] keys (use
  // proxy_extra for those).
  std::unique_ptr<child>
  headless_with_target(const std::string& name, fs::path& target,
                       const std::string& extra = "",
                       const std::string& proxy_extra = "") {
    target = dir / name;
    fs::copy_file(DROVER_PEER, target, fs::copy_options::overwrite_existing);
    auto engine = std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", app.name(),
                                 DROVER_BINARY, "--headless", "--config",
                                 config(proxy_extra
                                        + "[targets]\nprocesses = [\"" + name
                                        + "\"]\n" + extra)
                                     .string()},
        env());
    if (auto events = follow_events())
      events->wait_for_output(became("active"), 20s);
    return engine;
  }

  // Starts `named` (a copy of the peer helper, a target by name) in
  // rounds-of-tcp mode against the echo server, and waits until the engine
  // captures it. Each "go" line on its stdin is one round. `uid`: the user
  // it runs as (targets are only the served user's programs).
  std::unique_ptr<child> tcp_rounds(child& engine, const fs::path& named,
                                    uid_t uid = 0) {
    std::vector<std::string> argv{"ip", "netns", "exec", app.name()};
    if (uid != 0)
      for (auto a :
           {std::string{"setpriv"}, "--reuid=" + std::to_string(uid),
            "--regid=" + std::to_string(uid), std::string{"--clear-groups"}})
        argv.push_back(a);
    for (auto a : {named.string(), std::string{"rounds-of-tcp"}, server_ip,
                   std::string{"7"}, std::string{"1"}})
      argv.push_back(a);
    auto target = std::make_unique<child>(argv);
    if (!engine.wait_for_output("capturing " + named.filename().string(), 10s))
      ADD_FAILURE() << "not captured: " << engine.output();
    return target;
  }

  // coturn as a STUN server on server_ip:3478: `drover check`'s UDP target.
  std::unique_ptr<child> stun_server() {
    auto c = std::make_unique<child>(
        std::vector<std::string>{"ip",
                                 "netns",
                                 "exec",
                                 remote.name(),
                                 "turnserver",
                                 "-n",
                                 "-S",
                                 "-L",
                                 server_ip,
                                 "-p",
                                 "3478",
                                 "--no-cli",
                                 "--no-tls",
                                 "--no-dtls",
                                 "-z",
                                 "--log-file=stdout",
                                 "--simple-log",
                                 "--pidfile",
                                 (dir / "turnserver.pid").string(),
                                 "--userdb",
                                 (dir / "turndb").string()});
    if (!c->wait_for_output("Total General servers", 10s))
      ADD_FAILURE() << "coturn did not start: " << c->output();
    return c;
  }

  // A config for the proxy at proxy_ip:`port`, with `extra` lines.
  fs::path proxy_config(uint16_t port, const std::string& extra = "") {
    auto p = dir / ("proxy-" + std::to_string(port) + ".toml");
    std::ofstream{p} << "[proxy]\nhost = \"" << proxy_ip
                     << "\"\nport = " << port << "\n"
                     << extra;
    return p;
  }

  // `drover check ARGS...` in the app namespace, with the config `cfg`
  // (default: the lab's proxy).
  std::pair<int, std::string> check(std::vector<std::string> args,
                                    fs::path cfg = {}) {
    if (cfg.empty())
      cfg = config();
    std::vector<std::string> argv{"ip",       "netns",       "exec",
                                  app.name(), DROVER_BINARY, "check",
                                  "--config", cfg.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    child c{argv, env()};
    int code = c.wait(60s);
    return {code, c.output()};
  }

  // Where a root engine in the app namespace keeps its control socket.
  std::string control_socket() {
    auto inode = sh_output("stat -L -c %i /run/netns/" + app.name());
    inode.erase(inode.find_last_not_of(" \n") + 1);
    return "/run/drover/control-" + inode + ".sock";
  }

  std::string rules() {
    return sh_output(app.exec("iptables-save -t raw"))
           + sh_output(app.exec("ip6tables-save -t raw"));
  }

  bool drover_cgroup_exists() {
    auto id = sh_output(app.exec("readlink /proc/self/ns/net"));
    auto open = id.find('['), close = id.find(']');
    auto name = "drover-" + id.substr(open + 1, close - open - 1);
    for (auto root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
      if (fs::exists(fs::path{root} / name))
        return true;
    return false;
  }
};

// The engine's events, followed from the first wait on: what a test waits
// on instead of the log's wording. Marks are offsets into what was
// followed, so a wait sees only what happened after its mark (the
// follower prints the recent events first). An engine that ends takes its
// follower with it: forget() before the next engine.
class event_watch {
public:
  explicit event_watch(world& w) : w_(w) {}

  /// Where the events stand now: wait from here for what an action causes.
  size_t mark() {
    follow();
    return follower_ ? follower_->output().size() : 0;
  }

  bool wait(const std::string& what, std::chrono::milliseconds limit,
            size_t from = 0) {
    follow();
    return follower_ && follower_->wait_for_output(what, limit, from);
  }

  void forget() { follower_.reset(); }

  std::string output() const {
    return follower_ ? follower_->output() : "(no events followed)";
  }

private:
  // Once the first counters are in (each second), the recent events the
  // follower prints first are in too: a mark taken after that is "now".
  void follow() {
    if (follower_)
      return;
    follower_ = w_.follow_events();
    if (follower_)
      follower_->wait_for_output("{\"type\":\"stats\"", 5s);
  }
  world& w_;
  std::unique_ptr<child> follower_;
};

// An event's reason: `became(s) + reason(r)` waits for a change to `s`
// whose reason starts with `r`; reason(r) alone, for any event's.
inline std::string reason(const std::string& starts_with) {
  return ",\"reason\":\"" + starts_with;
}

inline int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

// What the application's namespace sends the servers' address directly
// (of `protocol`, or any), counted where it would arrive: a target's never
// should.
struct direct_counter {
  explicit direct_counter(world& w, const std::string& protocol = "") : w_(w) {
    sh(w_.remote.exec("iptables -t raw -I PREROUTING"
                      + (protocol.empty() ? "" : " -p " + protocol) + " -s "
                      + app_ip + " -d " + server_ip));
  }
  long packets() {
    std::smatch m;
    auto saved = sh_output(w_.remote.exec("iptables-save -c -t raw"));
    if (!std::regex_search(
            saved, m,
            std::regex{"\\[(\\d+):\\d+\\] -A PREROUTING -s " + app_ip}))
      return -1;
    return std::stol(m[1].str());
  }
  world& w_;
};

// A whole text file ("" when it cannot be read).
inline std::string read_text(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A plain Python client of the control socket, written into `dir`:
// `python3 SCRIPT SOCKET COMMAND BODY` sends the command line and the body,
// and prints the whole answer.
inline fs::path control_client_script(const fs::path& dir) {
  auto script = dir / "control_client.py";
  std::ofstream{script}
      << "import socket, sys\n"
      << "s = socket.socket(socket.AF_UNIX)\n"
      << "s.connect(sys.argv[1])\n"
      << "s.sendall(sys.argv[2].encode() + b'\\n' + sys.argv[3].encode())\n"
      << "out = b''\n"
      << "while True:\n"
      << "    b = s.recv(4096)\n"
      << "    if not b: break\n"
      << "    out += b\n"
      << "print(out.decode())\n";
  return script;
}

class engine_e2e : public ::testing::Test {
protected:
  void SetUp() override {
    if (!drover::test::is_root() || !drover::test::have_command("danted"))
      GTEST_SKIP() << "needs root and dante-server";
    w = std::make_unique<world>();
  }
  std::unique_ptr<world> w;
};

} // namespace drover::e2e
