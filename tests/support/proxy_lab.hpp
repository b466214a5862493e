#pragma once

// The end-to-end topology shared by tests/e2e and bench/engine_bench:
// namespaces "app" (10.210.0.1, fd77::1) and "remote" (dante on
// 10.210.0.2:1080; servers on 10.210.0.3, fd77::3) joined by veth. Made by
// the constructor, removed by the destructor (Linux, root).

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"

namespace drover::test {

struct proxy_lab {
  static inline const std::string app_ip = "10.210.0.1";
  static inline const std::string proxy_ip = "10.210.0.2";
  static inline const std::string server_ip = "10.210.0.3";

  netns app;
  netns remote;
  std::filesystem::path dir;
  std::unique_ptr<child> dante;

  /// `tag` names the namespaces and the scratch folder.
  explicit proxy_lab(const std::string& tag)
      : app(tag + "app"), remote(tag + "remote"),
        dir(std::filesystem::temp_directory_path()
            / ("drover-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto on = [](const netns& ns, const std::string& cmd) {
      sh("ip -n " + ns.name() + " " + cmd);
    };
    on(app, "link add veth0 type veth peer name veth1 netns " + remote.name());
    on(app, "addr add " + app_ip + "/24 dev veth0");
    on(remote, "addr add " + proxy_ip + "/24 dev veth1");
    on(remote, "addr add " + server_ip + "/24 dev veth1");
    on(app, "addr add fd77::1/64 dev veth0 nodad");
    on(remote, "addr add fd77::3/64 dev veth1 nodad");
    on(app, "link set veth0 up");
    on(remote, "link set veth1 up");
    std::ofstream{dir / "danted.conf"}
        << "logoutput: " << (dir / "danted.log").string() << "\n"
        << "internal: " << proxy_ip << " port = 1080\n"
        << "external: " << proxy_ip << "\n"
        << "socksmethod: none\nclientmethod: none\n"
        << "user.privileged: root\nuser.unprivileged: nobody\n"
        << "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n"
        << "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 "
           "command: connect udpassociate bind udpreply }\n";
    start_proxy();
  }

  /// Starts dante (again); see wait_for_proxy().
  void start_proxy() {
    dante = std::make_unique<child>(std::vector<std::string>{
        "ip", "netns", "exec", remote.name(), "danted", "-f",
        (dir / "danted.conf").string(), "-p", (dir / "danted.pid").string()});
  }

  /// Stops dante (a proxy that went down): its children follow it.
  void stop_proxy() {
    dante->kill(SIGTERM);
    dante->wait(std::chrono::seconds{10});
    for (int i = 0; i < 100 && proxy_accepts(); ++i)
      ::usleep(100000);
  }

  /// microsocks (Debian's) on proxy_ip:`port`: a proxy without UDP
  /// ASSOCIATE that reads one message per read. Null when not installed.
  std::unique_ptr<child> microsocks(uint16_t port) {
    if (sh("command -v microsocks >/dev/null") != 0)
      return nullptr;
    auto p = std::make_unique<child>(std::vector<std::string>{
        "ip", "netns", "exec", remote.name(), "microsocks", "-i", proxy_ip,
        "-p", std::to_string(port)});
    for (int i = 0; i < 100 && !proxy_accepts(port); ++i)
      ::usleep(50000);
    return p;
  }

  bool proxy_accepts(uint16_t port = 1080) {
    return sh(remote.exec("bash -c 'exec 3<>/dev/tcp/" + proxy_ip + "/"
                          + std::to_string(port) + "' 2>/dev/null"))
           == 0;
  }

  /// Another dante on proxy_ip:`port` with its own `socks` rules (one that
  /// refuses UDP ASSOCIATE, say), started and ready. With a `user`, it
  /// wants that login and `password`: the user exists for this dante only,
  /// which runs in a mount namespace where /etc/passwd and /etc/shadow are
  /// copies with the user added; the machine's own files are not touched.
  /// With `hosts`, its /etc/hosts is that text (names only it resolves),
  /// and its log has each request in detail (debug: 1: the name asked for).
  std::unique_ptr<child> other_proxy(uint16_t port,
                                     const std::string& socks_rules,
                                     const std::string& user = "",
                                     const std::string& password = "",
                                     const std::string& hosts = "") {
    auto name = "dante-" + std::to_string(port);
    auto conf = dir / (name + ".conf");
    std::ofstream{conf} << "logoutput: " << (dir / (name + ".log")).string()
                        << "\n"
                        << (hosts.empty() ? "" : "debug: 1\n")
                        << "internal: " << proxy_ip << " port = " << port
                        << "\n"
                        << "external: " << proxy_ip << "\n"
                        << "socksmethod: "
                        << (user.empty() ? "none" : "username")
                        << "\nclientmethod: none\n"
                        << "user.privileged: root\nuser.unprivileged: nobody\n"
                        << "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n"
                        << socks_rules << "\n";
    auto run = "exec danted -f " + conf.string() + " -p "
               + (dir / (name + ".pid")).string();
    if (!user.empty()) {
      auto passwd = dir / "passwd";
      auto shadow = dir / "shadow";
      std::filesystem::copy_file(
          "/etc/passwd", passwd,
          std::filesystem::copy_options::overwrite_existing);
      std::filesystem::copy_file(
          "/etc/shadow", shadow,
          std::filesystem::copy_options::overwrite_existing);
      std::ofstream{passwd, std::ios::app}
          << user << ":x:64999:64999::/nonexistent:/usr/sbin/nologin\n";
      std::ofstream{shadow, std::ios::app}
          << user << ":"
          << sh_output("openssl passwd -6 '" + password + "' | tr -d '\\n'")
          << ":19000:0:99999:7:::\n";
      run = "mount --bind " + passwd.string() + " /etc/passwd && mount --bind "
            + shadow.string() + " /etc/shadow && " + run;
    }
    if (!hosts.empty()) {
      auto file = dir / (name + ".hosts");
      std::ofstream{file} << hosts;
      run = "mount --bind " + file.string() + " /etc/hosts && " + run;
    }
    auto c = std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", remote.name(),
                                 "unshare", "-m", "sh", "-c", run});
    for (int i = 0; i < 100 && !proxy_accepts(port); ++i)
      ::usleep(100000);
    return c;
  }

  ~proxy_lab() {
    // An engine a test killed leaves its cgroup (drover-<namespace inode>),
    // as a killed engine must; the namespace goes now, and a later one with
    // the same inode must not find it.
    struct stat st {};
    if (::stat(("/run/netns/" + app.name()).c_str(), &st) == 0)
      sh("find /sys/fs/cgroup -maxdepth 4 -depth -type d -name 'drover-"
         + std::to_string(st.st_ino) + "' -exec rmdir {} + 2>/dev/null");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  proxy_lab(const proxy_lab&) = delete;
  proxy_lab& operator=(const proxy_lab&) = delete;

  /// Starts `peer MODE server_ip PORT` on the remote side and waits until
  /// it listens.
  std::unique_ptr<child> server(const std::string& peer,
                                const std::string& mode,
                                const std::string& port) {
    auto c = std::make_unique<child>(std::vector<std::string>{
        "ip", "netns", "exec", remote.name(), peer, mode, server_ip, port});
    c->wait_for_output("listening", std::chrono::seconds{10});
    return c;
  }

  /// dante has no readiness signal: waits (bounded) until it accepts.
  bool wait_for_proxy() {
    for (int i = 0; i < 100; ++i) {
      if (proxy_accepts())
        return true;
      ::usleep(100000);
    }
    return false;
  }
};

} // namespace drover::test
