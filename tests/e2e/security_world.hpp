#pragma once

// The privileged engine's security world: a root engine started for user
// "nobody" (as sudo would), its config in nobody's folder, driven over
// its control socket as each kind of caller would. Shared by
// security_test.cpp and control_socket_test.cpp; docs/security.md lists
// what these tests enforce.

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <functional>
#include <random>

#include "tests/e2e/world.hpp"

namespace drover::e2e {

inline constexpr uid_t nobody = 65534;

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

} // namespace drover::e2e
