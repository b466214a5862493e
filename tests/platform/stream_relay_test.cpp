// The relay on the real kernel: a namespace of the test's own where nat
// REDIRECT sends connections to the relay's listener and TPROXY sends
// datagrams to its intake, dante as the proxy, the test peer's echo
// servers behind it (the TCP one speaks first: its greeting follows
// CONNECT's reply in the same read).

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

// Pipelined: the greeting and CONNECT leave in one segment, one round trip
// to the proxy fewer; the server's first bytes and the echo come through as
// before.
TEST_F(stream_relay_test, a_pipelined_exchange_goes_through_dante) {
  auto relay = start(platform::relay_mode::proxy, dante());
  relay->set_pipelining(true);
  for (int round = 0; round < 3; ++round) {
    int fd = client();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
    std::string hello = "pipelined " + std::to_string(round);
    ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0),
              static_cast<ssize_t>(hello.size()));
    EXPECT_EQ(read_exactly(fd, hello.size()), hello);
    ::close(fd);
  }
  EXPECT_TRUE(events.failures.empty());
}

// Why the relay pipelines only once the check has seen it work: microsocks
// reads one message per read, so the CONNECT that came with the greeting is
// lost and the connection hangs. The check's probe tells the two proxies
// apart, quickly; without pipelining microsocks relays as well.
TEST_F(stream_relay_test,
       only_a_proxy_the_probe_saw_read_both_at_once_gets_them_together) {
  auto microsocks = lab->microsocks(1081);
  if (!microsocks)
    GTEST_SKIP() << "needs microsocks";
  auto one_at_a_time = at(proxy_lab::proxy_ip, 1081);
  probe_request req;
  req.try_pipelining = true;
  req.udp_associate = false; // microsocks has none
  req.proxy = dante();
  auto dante_probe = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(dante_probe.verdict, probe_verdict::ok) << dante_probe.reason;
  EXPECT_TRUE(dante_probe.pipelining);
  req.proxy = one_at_a_time;
  auto began = std::chrono::steady_clock::now();
  auto micro_probe = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms)
      << "a proxy that does not answer costs the check little";
  EXPECT_EQ(micro_probe.verdict, probe_verdict::ok) << micro_probe.reason;
  EXPECT_FALSE(micro_probe.pipelining);

  spares = 0; // a spare's request goes alone: what is tested is the pair
  auto relay = start(platform::relay_mode::proxy, one_at_a_time, 1s);
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  ::close(fd);
  EXPECT_TRUE(events.failures.empty());
  relay->set_pipelining(true); // what the probe protects against
  fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd), "");
  ::close(fd);
  ASSERT_TRUE(events.wait_for_failure());
  EXPECT_NE(events.failures.front().find("did not answer"), std::string::npos)
      << events.failures.front();
}

// A proxy that refuses UDP ASSOCIATE (microsocks: "command not supported")
// is usable for TCP: the check says tcp_only, not unreachable, and a proxy
// that is not there is still unreachable.
TEST_F(stream_relay_test,
       the_probe_tells_a_tcp_only_proxy_from_one_that_is_down) {
  auto microsocks = lab->microsocks(1081);
  if (!microsocks)
    GTEST_SKIP() << "needs microsocks";
  probe_request req;
  req.proxy = at(proxy_lab::proxy_ip, 1081);
  auto r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::tcp_only) << r.reason;
  EXPECT_TRUE(r.udp_refused);
  EXPECT_NE(r.udp_detail.find("command not supported"), std::string::npos)
      << r.udp_detail;
  req.proxy = dante();
  r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::ok) << r.reason;
  EXPECT_FALSE(r.udp_refused);
  req.proxy = at(proxy_lab::proxy_ip, 1999);
  req.budget = 1s;
  r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::unreachable) << r.reason;
  EXPECT_FALSE(r.udp_refused);
  // OpenSSH's `ssh -D` hangs up on any request but CONNECT, without a
  // reply (channels.c); as sshd is a system service, not something a test
  // should install, a few lines of Python answer as it does.
  child hangs_up{{"ip", "netns", "exec", lab->remote.name(), "python3", "-c",
                  "import socket\n"
                  "s = socket.socket()\n"
                  "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  "s.bind(('"
                      + proxy_lab::proxy_ip
                      + "', 1082))\n"
                        "s.listen()\n"
                        "print('listening', flush=True)\n"
                        "c, _ = s.accept()\n"
                        "c.recv(3)\n"
                        "c.sendall(b'\\x05\\x00')\n"
                        "c.recv(10)\n"
                        "c.close()\n"}};
  ASSERT_TRUE(hangs_up.wait_for_output("listening", 10s));
  req.proxy = at(proxy_lab::proxy_ip, 1082);
  r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::tcp_only) << r.reason;
  EXPECT_EQ(r.udp_detail, "it closed the connection on UDP ASSOCIATE");
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

// A server that speaks first on a web port (the client sends nothing, so
// names nothing): after a short wait the proxy is asked for the address,
// and the connection works as any other.
TEST_F(stream_relay_test, a_silent_client_on_a_web_port_gets_the_address) {
  auto server_first = lab->server(DROVER_PEER, "tcp-echo", "443");
  auto relay = start(platform::relay_mode::proxy, dante());
  auto began = std::chrono::steady_clock::now();
  int fd
      = inside(lab->app, [&] { return connect_to(proxy_lab::server_ip, 443); });
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  auto waited = std::chrono::steady_clock::now() - began;
  EXPECT_GE(waited, 250ms) << "the client was given time to name the server";
  EXPECT_LT(waited, 3s);
  ::close(fd);
  // A name the proxy cannot resolve (dante asks its own DNS): the address
  // the application connected to is tried next, and the connection works
  // as it did without names; the request reaches the server whole.
  fd = inside(lab->app, [&] { return connect_to(proxy_lab::server_ip, 443); });
  ASSERT_GE(fd, 0);
  std::string request = "GET / HTTP/1.1\r\nHost: no-such-host.invalid\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  EXPECT_EQ(read_exactly(fd, request.size()), request);
  ::close(fd);
  EXPECT_TRUE(events.failures.empty())
      << "the proxy answered: not the proxy's fault: "
      << (events.failures.empty() ? "" : events.failures.front());
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
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::proxy, error))
      << error;
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  // ... and not proxying again ends no open stream.
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::refuse,
                              platform::relay_mode::refuse, error))
      << error;
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
  // A report may come between the banner and the chunk (the banner's
  // bytes alone): the first one to count bytes out must count them all.
  auto progress = events.wait_until([](const net::stream_news& n) {
    return n.what == kind::progress && n.out > 0;
  });
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->out, chunk.size());
  ::close(fd);
}

namespace {

// A burst of four `connection`s, then one more, whose request must go on a
// connection the proxy had greeted before it: a spare.
void expect_a_burst_to_leave_a_spare(child& proxy,
                                     const std::function<void()>& connection) {
  for (int i = 0; i < 4; ++i)
    connection();
  ASSERT_TRUE(wait_for_story(proxy, [](const std::string& out) {
    return !greeted_only(out).empty();
  })) << proxy.output();
  auto before = newest_connection(proxy.output());
  auto from = proxy.output().size();
  connection();
  ASSERT_TRUE(proxy.wait_for_output("request ", 10s, from));
  auto asked = proxy.output().substr(proxy.output().find("request ", from));
  int number = std::stoi(asked.substr(8));
  EXPECT_LE(number, before)
      << "request " << number << " went on a fresh connection:\n"
      << proxy.output();
}

} // namespace

// A lone connection opens one proxy connection; a burst leaves spares the
// proxy greeted ahead, and the next connection's request goes on one of
// them. Once the burst is over, every spare is closed after its lifetime.
TEST_F(stream_relay_test,
       a_burst_is_served_by_proxy_connections_greeted_ahead) {
  auto proxy = recording_proxy(1083);
  spare_lifetime = 2s;
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1083));
  one_connection();
  ASSERT_TRUE(proxy->wait_for_output("closed 1", 10s));
  EXPECT_EQ(proxy_story(proxy->output()).size(), 1u) << proxy->output();
  expect_a_burst_to_leave_a_spare(*proxy, [&] { one_connection(); });
  // Lifetime over, demand gone: every connection the proxy saw is closed.
  EXPECT_TRUE(wait_for_story(*proxy, every_connection_closed))
      << proxy->output();
  EXPECT_TRUE(events.failures.empty());
}

namespace {

// Three connections in a row, then waits (bounded) for the proxy to have
// greeted a connection nobody asked anything on yet: a spare.
bool burst_until_spares(child& proxy, const std::function<int()>& client) {
  for (int i = 0; i < 3; ++i) {
    int fd = client();
    if (fd < 0)
      return false;
    read_line(fd);
    ::close(fd);
  }
  return wait_for_story(
      proxy, [](const std::string& out) { return !greeted_only(out).empty(); });
}

} // namespace

// A proxy may end a greeted connection (its idle timeout) just as the
// relay sends a request on it: the stream goes on a fresh connection,
// unseen by the application, and no proxy trouble is reported.
TEST_F(stream_relay_test, a_spare_the_proxy_hangs_up_on_is_replaced_unseen) {
  auto proxy = recording_proxy(1084, "--stale-after 300");
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1084));
  ASSERT_TRUE(burst_until_spares(*proxy, [&] { return client(); }))
      << proxy->output();
  // The condition under test, not a wait for an event: spares older than
  // the proxy's 300 ms.
  std::this_thread::sleep_for(400ms);
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u)
      << proxy->output();
  ::close(fd);
  EXPECT_NE(proxy->output().find("hung up"), std::string::npos)
      << "no spare was used:\n"
      << proxy->output();
  EXPECT_TRUE(events.failures.empty())
      << (events.failures.empty() ? "" : events.failures.front());
}

// Ending every stream (the computer going to sleep: the way to the proxy
// may be gone when it wakes) closes the spares too, long before their
// lifetime.
TEST_F(stream_relay_test, ending_every_stream_closes_the_spares) {
  auto proxy = recording_proxy(1085);
  spare_lifetime = 60s;
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1085));
  ASSERT_TRUE(burst_until_spares(*proxy, [&] { return client(); }))
      << proxy->output();
  relay->close_all();
  EXPECT_TRUE(wait_for_story(
      *proxy, [](const std::string& out) { return greeted_only(out).empty(); }))
      << "a spare outlived close_all:\n"
      << proxy->output();
}

// A spare the proxy refuses (its greeting answered "no acceptable method")
// pauses the spares for 5 s: a proxy that refuses is not asked again and
// again ahead of need; the streams meanwhile go on fresh connections (and
// would meet and report a proxy that refuses them too). Then bursts get
// spares again.
TEST_F(stream_relay_test, a_refused_spare_pauses_the_spares) {
  // The first connection is lone; the second makes a burst, whose spare
  // is the proxy's third connection.
  auto proxy = recording_proxy(1086, "--refuse-greeting 3");
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1086));
  one_connection();
  one_connection();
  ASSERT_TRUE(proxy->wait_for_output("refused 3", 10s)) << proxy->output();
  auto refused_at = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i)
    one_connection();
  // A burst that would have left spares within milliseconds (the test
  // above): none for a second, well inside the pause.
  EXPECT_FALSE(wait_for_story(
      *proxy, [](const std::string& out) { return !greeted_only(out).empty(); },
      1s))
      << "a spare during the pause:\n"
      << proxy->output();
  EXPECT_TRUE(events.failures.empty())
      << (events.failures.empty() ? "" : events.failures.front());
  // The condition under test is the pause's length: past it, a burst gets
  // spares again.
  std::this_thread::sleep_until(refused_at + 5s);
  EXPECT_TRUE(burst_until_spares(*proxy, [&] { return client(); }))
      << proxy->output();
}

// An HTTP proxy has no greeting to pay ahead: a burst opens one proxy
// connection per application connection, and no more.
TEST_F(stream_relay_test, an_http_proxy_gets_no_spares) {
  auto proxy = recording_proxy(1087, "--http");
  http = true;
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1087));
  for (int i = 0; i < 4; ++i)
    one_connection();
  // Spares would be connections the proxy accepted and was asked nothing
  // on; with SOCKS5 they appear within milliseconds of such a burst.
  EXPECT_FALSE(wait_for_story(
      *proxy,
      [](const std::string& out) {
        for (auto& [n, words] : proxy_story(out))
          if (words.count("request") == 0)
            return true;
        return false;
      },
      1s))
      << proxy->output();
  EXPECT_EQ(proxy_story(proxy->output()).size(), 4u) << proxy->output();
}

// A server that answers and hangs up at once: the proxy's reply, the
// server's bytes (`text`, maybe none) and their end come in one segment.
// The application gets every byte and then an orderly end, on a fresh proxy
// connection and on a spare alike. (The relay stops reading a socket once a
// read leaves room, since anything later brings an event of its own; an
// end already announced brings none, and is read in the same round.)
void stream_relay_test::answer_and_close(const std::string& text) {
  auto proxy = recording_proxy(1088, "--answer-and-close '" + text + "'");
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1088));
  auto heard_to_the_end = [&] {
    int fd = client();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_exactly(fd, text.size()), text);
    int error = -1;
    EXPECT_EQ(read_exactly(fd, 1, &error), "");
    EXPECT_EQ(error, 0) << "an orderly end, not a reset or a wait";
    ::close(fd);
  };
  expect_a_burst_to_leave_a_spare(*proxy, heard_to_the_end);
  EXPECT_TRUE(events.failures.empty())
      << (events.failures.empty() ? "" : events.failures.front());
}

TEST_F(stream_relay_test, an_answer_and_its_end_in_one_segment_both_arrive) {
  answer_and_close("bye");
}

TEST_F(stream_relay_test, a_reply_and_the_end_in_one_segment_end_the_stream) {
  answer_and_close("");
}

// -- UDP: TPROXY to the intake, one association per application socket ----

namespace {

constexpr uint32_t target_mark = 0x1230;
constexpr uint32_t udp_mark = 0x44520008;

class datagram_relay_test : public stream_relay_test {
protected:
  void SetUp() override {
    stream_relay_test::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    udp_echo = lab->server(DROVER_PEER, "udp-echo", "7");
    intake_at = at("127.0.0.1", listen_at.port);
    std::string error;
    intake = inside(lab->app, [&] {
      return platform::open_datagram_intake(intake_at, error);
    });
    ASSERT_NE(intake, platform::invalid_socket) << error;
    EXPECT_LT(intake_at.port, 1024);
    // What the capture installs, for the server's address and sockets
    // with the test's mark (the kernel program marks targets' sockets).
    auto mark = std::to_string(udp_mark);
    for (auto& command : std::vector<std::string>{
             "iptables -t mangle -A OUTPUT -p udp -d " + proxy_lab::server_ip
                 + " -m mark --mark " + std::to_string(target_mark)
                 + " -j MARK --set-mark " + mark,
             "ip rule add fwmark " + mark + " lookup 17490",
             "ip route add local 0.0.0.0/0 dev lo table 17490",
             "iptables -t mangle -A PREROUTING -i lo -p udp -m mark --mark "
                 + mark + " -j TPROXY --on-port "
                 + std::to_string(intake_at.port)
                 + " --on-ip 127.0.0.1 --tproxy-mark " + mark})
      ASSERT_EQ(sh(lab->app.exec(command)), 0) << command;
  }

  // A target's UDP socket (marked as the kernel program marks them).
  int target_socket() {
    return inside(lab->app, [&] {
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      uint32_t m = target_mark;
      ::setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof m);
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      return fd;
    });
  }

  // Sends `text` to the echo server; the reply and where it came from.
  std::pair<std::string, net::endpoint> exchange(int fd,
                                                 const std::string& text) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7);
    ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
    ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof to);
    char buf[2048];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    auto n = ::recvfrom(fd, buf, sizeof buf, 0,
                        reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0)
      return {};
    return {
        std::string(buf, static_cast<size_t>(n)),
        {net::ipv4_address{ntohl(from.sin_addr.s_addr)}, ntohs(from.sin_port)}};
  }

  std::unique_ptr<child> udp_echo;
  net::endpoint intake_at;
};

} // namespace

TEST_F(datagram_relay_test, a_datagram_goes_through_the_proxy_and_back) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = target_socket();
  // The server sees the proxy; the application sees its server.
  auto [reply, from] = exchange(fd, "ping");
  EXPECT_EQ(reply.rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u) << reply;
  EXPECT_NE(reply.find("ping"), std::string::npos) << reply;
  EXPECT_EQ(from, at(proxy_lab::server_ip, 7));
  auto opened = events.wait_for(kind::opened);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->protocol, net::stream_news::udp);
  EXPECT_EQ(opened->remote, at(proxy_lab::server_ip, 7));
  EXPECT_EQ(opened->app.ip, at(proxy_lab::app_ip, 0).ip);
  // A second datagram reuses the association and the flow.
  EXPECT_NE(exchange(fd, "again").first.find("again"), std::string::npos);
  auto progress = events.wait_for(kind::progress);
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->id, opened->id);
  EXPECT_EQ(progress->out, 9u);
  EXPECT_GT(progress->in, 9u);
  // A connected socket (the voice client's kind) too.
  int connected = target_socket();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7);
  ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
  ASSERT_EQ(::connect(connected, reinterpret_cast<sockaddr*>(&to), sizeof to),
            0);
  EXPECT_NE(exchange(connected, "voice").first.find("voice"),
            std::string::npos);
  EXPECT_TRUE(events.wait_for(kind::opened, 2));
  EXPECT_TRUE(events.failures.empty());
  ::close(fd);
  ::close(connected);
}

TEST_F(datagram_relay_test, a_pipelined_association_carries_datagrams) {
  auto relay = start(platform::relay_mode::proxy, dante());
  relay->set_pipelining(true);
  int fd = target_socket();
  auto [reply, from] = exchange(fd, "pipelined");
  EXPECT_NE(reply.find("pipelined"), std::string::npos) << reply;
  EXPECT_EQ(from, at(proxy_lab::server_ip, 7));
  EXPECT_TRUE(events.failures.empty());
  ::close(fd);
}

TEST_F(datagram_relay_test, while_not_proxying_datagrams_are_dropped) {
  auto relay = start(platform::relay_mode::refuse, dante());
  int fd = target_socket();
  timeval tv{0, 300000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(exchange(fd, "ping").first, "") << "never direct, never relayed";
  auto dropped = events.wait_for(kind::dropped);
  ASSERT_TRUE(dropped);
  EXPECT_GE(dropped->out, 1u);
  std::string error;
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::proxy, error))
      << error;
  tv = {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_NE(exchange(fd, "now").first.find("now"), std::string::npos);
  ::close(fd);
}

// A TCP-only proxy: the relay carries TCP through it and, as the policy
// says, drops the targets' datagrams or lets them out direct.
TEST_F(datagram_relay_test, udp_has_a_mode_of_its_own) {
  auto relay = start(platform::relay_mode::proxy, dante());
  std::string error;
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::refuse, error))
      << error;
  int fd = target_socket();
  timeval tv{0, 300000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(exchange(fd, "blocked").first, "") << "never direct, never relayed";
  EXPECT_TRUE(events.wait_for(kind::dropped));
  int tcp = client();
  ASSERT_GE(tcp, 0);
  EXPECT_EQ(read_line(tcp).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u)
      << "TCP still goes through the proxy";
  ::close(tcp);
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::direct, error))
      << error;
  tv = {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto [reply, from] = exchange(fd, "direct");
  EXPECT_EQ(reply.rfind("peer " + proxy_lab::app_ip + ":", 0), 0u)
      << "the server sees the application itself: " << reply;
  EXPECT_EQ(from, at(proxy_lab::server_ip, 7));
  EXPECT_TRUE(events.failures.empty());
  ::close(fd);
}

// Refused, a connected socket (a resolver's, QUIC's) learns at once: a
// port unreachable from its remote fails its next receive, as a closed
// port's would, instead of its own timeout. Paused, nothing answers.
TEST_F(datagram_relay_test,
       a_refused_datagram_fails_a_connected_socket_at_once) {
  auto relay = start(platform::relay_mode::proxy, dante());
  std::string error;
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::refuse, error))
      << error;
  auto connected = [&] {
    int fd = target_socket();
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7);
    ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    return fd;
  };
  int fd = connected(); // its receive waits up to 5 s
  auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(::send(fd, "refused", 7, 0), 7);
  char buf[64];
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 2s) << "at once";
  EXPECT_TRUE(events.wait_for(kind::dropped)) << "counted as dropped";
  ::close(fd);
  // Paused: dropped without an answer (the programs should not give up
  // because the computer went to sleep).
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::refuse,
                              platform::relay_mode::drop, error))
      << error;
  fd = connected();
  timeval tv{0, 500000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::send(fd, "paused", 6, 0), 6);
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN) << "no answer: its own timeout";
  ::close(fd);
  EXPECT_TRUE(events.failures.empty());
}

TEST_F(datagram_relay_test, a_local_program_cannot_use_the_intake_as_a_relay) {
  auto relay = start(platform::relay_mode::proxy, dante());
  // An unmarked socket sends to the intake itself: nothing goes anywhere.
  int fd = inside(lab->app, [&] {
    return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  });
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(intake_at.port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  std::string text = "let me in";
  ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to),
           sizeof to);
  auto dropped = events.wait_for(kind::dropped);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->out, 1u);
  // Reported with the drop (same batch or before): no flow for it.
  std::lock_guard<std::mutex> lock{events.mutex};
  for (auto& n : events.all)
    EXPECT_NE(n.what, kind::opened) << "no association for it";
  ::close(fd);
}

TEST_F(datagram_relay_test, the_engine_ends_a_flow_and_its_association) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = target_socket();
  EXPECT_NE(exchange(fd, "one").first.find("one"), std::string::npos);
  auto opened = events.wait_for(kind::opened);
  ASSERT_TRUE(opened);
  relay->close(opened->id); // expired in the table, say
  // The next datagram is a new flow on a new association, and still
  // arrives.
  EXPECT_NE(exchange(fd, "two").first.find("two"), std::string::npos);
  auto again = events.wait_for(kind::opened, 2);
  ASSERT_TRUE(again);
  EXPECT_NE(again->id, opened->id);
  relay->close_all();
  EXPECT_NE(exchange(fd, "three").first.find("three"), std::string::npos);
  EXPECT_TRUE(events.wait_for(kind::opened, 3));
  ::close(fd);
}

TEST_F(datagram_relay_test, a_proxy_that_is_not_there_is_reported) {
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1081));
  int fd = target_socket();
  timeval tv{0, 300000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(exchange(fd, "ping").first, "");
  ASSERT_TRUE(events.wait_for_failure());
  EXPECT_NE(events.failures.front().find("cannot connect to the proxy"),
            std::string::npos)
      << events.failures.front();
  // What the target sends meanwhile waits, bounded (256 datagrams): the
  // rest is dropped, not held.
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7);
  ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
  std::string payload(1000, 'v');
  for (int i = 0; i < 300; ++i)
    ::sendto(fd, payload.data(), payload.size(), 0,
             reinterpret_cast<sockaddr*>(&to), sizeof to);
  EXPECT_TRUE(events.wait_for_dropped(300 + 1 - 256));
  ::close(fd);
}
