// The TCP relay on the real kernel: a namespace of the test's own where
// nat REDIRECT sends connections to the relay's listener, dante as the
// proxy, the test peer's echo server behind it (it speaks first: its
// greeting follows CONNECT's reply in the same read).

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "actors/platform/stream_relay.hpp"
#include "tests/support/process.hpp"
#include "tests/support/proxy_lab.hpp"

using namespace drover;
using namespace drover::test;
using namespace std::chrono_literals;
using kind = net::stream_news::kind;

namespace {

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
  bool wait_for_failure() {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, 10s, [&] { return !failures.empty(); });
  }
  std::mutex mutex;
  std::condition_variable changed;
  net::stream_news_batch all;
  std::vector<std::string> failures;
};

net::endpoint at(const std::string& ip, uint16_t port) {
  return {*net::parse_ipv4(ip), port};
}

int connect_to(const std::string& ip, uint16_t port) {
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

std::string read_line(int fd) {
  std::string out;
  char c;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n')
    out += c;
  return out;
}

// Reads `n` bytes (or until the connection ends); the error of the last
// read in `error`.
std::string read_exactly(int fd, size_t n, int* error = nullptr) {
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

  std::unique_ptr<platform::stream_relay> start(platform::relay_mode mode,
                                                net::endpoint proxy) {
    platform::relay_options opts;
    opts.proxy.proxy = proxy;
    opts.proxy.connect_timeout = 3s;
    opts.mode = mode;
    opts.progress_interval = 100ms;
    std::string error;
    // Inside: the relay's threads, and the sockets they open to the proxy,
    // belong to the application's namespace, as the engine's do.
    auto r = inside(lab->app, [&] {
      return platform::start_stream_relay(listener, opts, events, error);
    });
    EXPECT_TRUE(r) << error;
    return r;
  }

  int client() {
    return inside(lab->app,
                  [&] { return connect_to(proxy_lab::server_ip, 7); });
  }

  net::endpoint dante() const { return at(proxy_lab::proxy_ip, 1080); }

  std::unique_ptr<proxy_lab> lab;
  std::unique_ptr<child> echo;
  net::endpoint listen_at;
  platform::socket_handle listener = platform::invalid_socket;
  recorder events;
};

} // namespace

TEST_F(stream_relay_test, a_redirected_connection_goes_through_the_proxy) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = client();
  ASSERT_GE(fd, 0);
  // The server sees the proxy, not the application.
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  std::string hello = "hello through the relay";
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0),
            static_cast<ssize_t>(hello.size()));
  EXPECT_EQ(read_exactly(fd, hello.size()), hello);
  auto opened = events.wait_for(kind::opened);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->remote, at(proxy_lab::server_ip, 7));
  EXPECT_EQ(opened->app.ip, at(proxy_lab::app_ip, 0).ip);
  // Half-close: the application's FIN reaches the server, which ends.
  ::shutdown(fd, SHUT_WR);
  int error = -1;
  EXPECT_EQ(read_exactly(fd, 1, &error), "");
  EXPECT_EQ(error, 0) << "an orderly end, not a reset";
  ::close(fd);
  auto ended = events.wait_for(kind::ended);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->id, opened->id);
  EXPECT_EQ(ended->out, hello.size());
  EXPECT_GT(ended->in, hello.size()); // the greeting and the echo
  EXPECT_TRUE(events.failures.empty());
}

TEST_F(stream_relay_test,
       bulk_both_ways_arrives_intact_and_no_descriptor_stays) {
  auto relay = start(platform::relay_mode::proxy, dante());
  auto before = open_descriptors(::getpid());
  constexpr size_t size = 8 << 20;
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i)
    data[i] = static_cast<char>((i * 7919) >> 3);
  for (int round = 0; round < 3; ++round) {
    int fd = client();
    ASSERT_GE(fd, 0);
    read_line(fd);
    std::thread writer{[&] {
      size_t done = 0;
      while (done < size) {
        auto n = ::send(fd, data.data() + done, size - done, MSG_NOSIGNAL);
        if (n <= 0)
          break;
        done += static_cast<size_t>(n);
      }
    }};
    auto back = read_exactly(fd, size);
    writer.join();
    EXPECT_TRUE(back == data)
        << "round " << round << ": " << back.size() << " bytes came back";
    ::close(fd);
  }
  ASSERT_TRUE(events.wait_for(kind::ended, 3));
  // The relay's threads keep a few spare pipes; nothing grows per stream.
  EXPECT_LE(open_descriptors(::getpid()), before + 2 * 8);
}

TEST_F(stream_relay_test, a_local_program_cannot_use_the_listener_as_a_relay) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = inside(lab->app,
                  [&] { return connect_to("127.0.0.1", listen_at.port); });
  ASSERT_GE(fd, 0);
  int error = 0;
  EXPECT_EQ(read_exactly(fd, 1, &error), "");
  EXPECT_EQ(error, ECONNRESET);
  ::close(fd);
  EXPECT_TRUE(events.wait_for(kind::not_redirected));
}

TEST_F(stream_relay_test,
       while_not_proxying_a_connection_is_refused_never_direct) {
  auto relay = start(platform::relay_mode::refuse, dante());
  errno = 0;
  EXPECT_EQ(client(), -1);
  EXPECT_EQ(errno, ECONNREFUSED) << "refused at once, by the kernel";
  std::string error;
  // Proxying: the listener takes connections again, on the same port ...
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy, error)) << error;
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  // ... and not proxying again ends no open stream.
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::refuse, error)) << error;
  EXPECT_EQ(client(), -1);
  std::string ping = "still here";
  ::send(fd, ping.data(), ping.size(), 0);
  EXPECT_EQ(read_exactly(fd, ping.size()), ping);
  ::close(fd);
}

TEST_F(stream_relay_test,
       a_proxy_that_refuses_is_reported_and_the_stream_reset) {
  // Nothing listens on port 1081: the connect is refused.
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1081));
  int fd = client();
  ASSERT_GE(fd, 0);
  int error = 0;
  EXPECT_EQ(read_exactly(fd, 1, &error), "");
  EXPECT_EQ(error, ECONNRESET);
  ::close(fd);
  ASSERT_TRUE(events.wait_for_failure());
  EXPECT_NE(events.failures.front().find("cannot connect to the proxy"),
            std::string::npos)
      << events.failures.front();
  EXPECT_TRUE(events.wait_for(kind::ended));
}

TEST_F(stream_relay_test, the_engine_ends_a_stream_and_every_stream) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int first = client();
  int second = client();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  read_line(first);
  read_line(second);
  auto opened = events.wait_for(kind::opened, 2);
  ASSERT_TRUE(opened);
  relay->close(opened->id); // evicted from the table, say
  int error = 0;
  read_exactly(second, 1, &error);
  EXPECT_EQ(error, ECONNRESET);
  relay->close_all(); // the computer goes to sleep
  error = 0;
  read_exactly(first, 1, &error);
  EXPECT_EQ(error, ECONNRESET);
  ::close(first);
  ::close(second);
  EXPECT_TRUE(events.wait_for(kind::ended, 2));
}

TEST_F(stream_relay_test, progress_is_reported_while_bytes_move) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = client();
  ASSERT_GE(fd, 0);
  read_line(fd);
  std::string chunk(1000, 'x');
  ::send(fd, chunk.data(), chunk.size(), 0);
  read_exactly(fd, chunk.size());
  auto progress = events.wait_for(kind::progress);
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->out, chunk.size());
  ::close(fd);
}
