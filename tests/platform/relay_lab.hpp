#pragma once

// The relay's lab on the real kernel, for the TCP tests
// (stream_relay_test.cpp) and the UDP ones (datagram_relay_test.cpp): a
// namespace of the test's own where nat REDIRECT sends connections to the
// relay's listener (and, in the UDP fixture, TPROXY sends datagrams to its
// intake), dante as the proxy, the test peer's echo servers behind it (the
// TCP one speaks first: its greeting follows CONNECT's reply in the same
// read).

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "actors/platform/stream_relay.hpp"
#include "actors/proxy_probe.hpp"
#include "tests/support/process.hpp"
#include "tests/support/proxy_lab.hpp"
#include "tests/support/recording_proxy.hpp"

namespace drover::test {

using namespace std::chrono_literals;
using kind = net::stream_news::kind;

class recorder final : public platform::relay_events {
public:
  void news(net::stream_news_batch&& batch) override {
    std::lock_guard<std::mutex> lock{mutex};
    all.insert(all.end(), batch.begin(), batch.end());
    changed.notify_all();
  }
  void proxy_failed(const std::string& why) override {
    std::lock_guard<std::mutex> lock{mutex};
    failures.push_back(why);
    changed.notify_all();
  }
  // Waits (bounded) until some news of `what` arrived; returns the last.
  std::optional<net::stream_news> wait_for(kind what, size_t count = 1) {
    std::unique_lock<std::mutex> lock{mutex};
    std::optional<net::stream_news> last;
    changed.wait_for(lock, 10s, [&] {
      size_t n = 0;
      for (auto& x : all)
        if (x.what == what) {
          ++n;
          last = x;
        }
      return n >= count;
    });
    return last;
  }
  // Waits (bounded) for the first news that `wanted` holds of.
  std::optional<net::stream_news>
  wait_until(const std::function<bool(const net::stream_news&)>& wanted) {
    std::unique_lock<std::mutex> lock{mutex};
    std::optional<net::stream_news> found;
    changed.wait_for(lock, 10s, [&] {
      for (auto& x : all)
        if (wanted(x)) {
          found = x;
          return true;
        }
      return false;
    });
    return found;
  }
  // Waits (bounded) until the datagrams reported dropped add up to `n`.
  bool wait_for_dropped(uint64_t n) {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, 10s, [&] {
      uint64_t sum = 0;
      for (auto& x : all)
        if (x.what == kind::dropped)
          sum += x.out;
      return sum >= n;
    });
  }
  bool wait_for_failure() {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, 10s, [&] { return !failures.empty(); });
  }
  std::mutex mutex;
  std::condition_variable changed;
  net::stream_news_batch all;
  std::vector<std::string> failures;
};

inline net::endpoint at(const std::string& ip, uint16_t port) {
  return {*net::parse_ipv4(ip), port};
}

inline int connect_to(const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

inline std::string read_line(int fd) {
  std::string out;
  char c;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n')
    out += c;
  return out;
}

// Reads `n` bytes (or until the connection ends); the error of the last
// read in `error`.
inline std::string read_exactly(int fd, size_t n, int* error = nullptr) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    auto got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) {
      if (error != nullptr)
        *error = got == 0 ? 0 : errno;
      break;
    }
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

class stream_relay_test : public ::testing::Test {
protected:
  void SetUp() override {
    if (!is_root() || !have_command("danted") || !have_command("iptables"))
      GTEST_SKIP() << "needs root, dante-server and iptables";
    lab = std::make_unique<proxy_lab>("rly");
    ASSERT_TRUE(lab->wait_for_proxy());
    echo = lab->server(DROVER_PEER, "tcp-echo", "7");
    listen_at = at("127.0.0.1", 0);
    std::string error;
    listener = inside(lab->app, [&] {
      return platform::listen_for_redirects(listen_at, error);
    });
    ASSERT_NE(listener, platform::invalid_socket) << error;
    EXPECT_LT(listen_at.port, 1024) << "a port no unprivileged program takes";
    // What the capture's nat rule does, for the server's address only.
    ASSERT_EQ(
        sh(lab->app.exec("iptables -t nat -A OUTPUT -p tcp -d "
                         + proxy_lab::server_ip + " -j REDIRECT "
                         + "--to-ports " + std::to_string(listen_at.port))),
        0);
  }

  std::unique_ptr<platform::stream_relay>
  start(platform::relay_mode mode, net::endpoint proxy,
        std::chrono::milliseconds timeout = 3s) {
    platform::relay_options opts;
    opts.proxy.proxy = proxy;
    opts.proxy.connect_timeout = timeout;
    opts.mode = mode;
    opts.udp_mode = mode;
    opts.progress_interval = 100ms;
    opts.proxy.http = http;
    opts.threads = 1; // a burst's demand and its spares are a thread's own
    opts.spares = spares;
    opts.spare_lifetime = spare_lifetime;
    std::string error;
    // Inside: the relay's threads, and the sockets they open to the proxy,
    // belong to the application's namespace, as the engine's do.
    auto r = inside(lab->app, [&] {
      return platform::start_stream_relay(listener, intake, opts, events,
                                          error);
    });
    EXPECT_TRUE(r) << error;
    return r;
  }

  int client() {
    return inside(lab->app,
                  [&] { return connect_to(proxy_lab::server_ip, 7); });
  }

  void answer_and_close(const std::string& text);

  // A connection to the echo server that gets its banner (which names
  // the peer it sees: the proxy), then closes.
  void one_connection() {
    int fd = client();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
    ::close(fd);
  }

  net::endpoint dante() const { return at(proxy_lab::proxy_ip, 1080); }

  // tests/platform/recording_socks5.py on proxy_ip:`port`.
  std::unique_ptr<child> recording_proxy(uint16_t port,
                                         const std::string& extra = "") {
    auto c = std::make_unique<child>(std::vector<std::string>{
        "sh", "-c",
        "exec ip netns exec " + lab->remote.name() + " python3 "
            + DROVER_SOURCE_DIR "/tests/platform/recording_socks5.py "
            + proxy_lab::proxy_ip + " " + std::to_string(port) + " " + extra});
    EXPECT_TRUE(c->wait_for_output("listening", 10s));
    return c;
  }

  unsigned spares = 4; // relay_options::spares
  bool http = false;   // the proxy speaks HTTP CONNECT
  std::chrono::milliseconds spare_lifetime = 10s;

  std::unique_ptr<proxy_lab> lab;
  std::unique_ptr<child> echo;
  net::endpoint listen_at;
  platform::socket_handle listener = platform::invalid_socket;
  platform::socket_handle intake = platform::invalid_socket;
  recorder events;
};

} // namespace drover::test
