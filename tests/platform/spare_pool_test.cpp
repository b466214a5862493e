// The sessions' spare proxy connections (actors/platform/spare_pool.hpp)
// against a small SOCKS5 server on loopback that asks for a login (on both
// OSes: under wine the pool's Windows sockets are what is tested): spares
// only for a burst, greeted and logged in ahead, handed over ready for the
// request; one the proxy ended is never handed over; none outlives its
// lifetime.

#include <gtest/gtest.h>

#ifdef _WIN32
#  include <winsock2.h>
#else
#  include <arpa/inet.h>
#  include <netinet/in.h>
#  include <poll.h>
#  include <sys/socket.h>
#  include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/platform/spare_pool.hpp"
#include "tests/support/eventually.hpp"

using namespace drover;
using namespace std::chrono_literals;

namespace {

// The few socket calls the test's server makes, on either OS.
#ifdef _WIN32
using native_socket = SOCKET;
constexpr native_socket no_socket = INVALID_SOCKET;
void close_native(native_socket s) {
  closesocket(s);
}
int poll_native(native_socket s, short events, int timeout_ms) {
  WSAPOLLFD p{s, events, 0};
  return WSAPoll(&p, 1, timeout_ms);
}
constexpr int no_signal = 0;
constexpr int both_ways = SD_BOTH;
using address_length = int;
#else
using native_socket = int;
constexpr native_socket no_socket = -1;
void close_native(native_socket s) {
  ::close(s);
}
int poll_native(native_socket s, short events, int timeout_ms) {
  pollfd p{s, events, 0};
  return ::poll(&p, 1, timeout_ms);
}
constexpr int no_signal = MSG_NOSIGNAL;
constexpr int both_ways = SHUT_RDWR;
using address_length = socklen_t;
#endif

// Accepts; answers a greeting offering the login with "login, please",
// checks the login, answers it, then keeps the connection until told. Or,
// `refusing`, answers every greeting with "no acceptable method". With
// `answer_together` > 1 it holds greetings until that many wait at once
// (or for 3 s), so a test sees whether they were made at the same time.
class login_proxy {
public:
  explicit login_proxy(bool refusing = false, size_t answer_together = 1)
      : refusing_(refusing), answer_together_(answer_together) {
#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address_length len = sizeof a;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 16);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread{[this] {
      serve();
    }};
  }
  ~login_proxy() {
    stop_ = true;
    thread_.join();
    close_native(listener_);
    for (auto fd : connections_)
      close_native(fd);
  }

  // Ends every connection it greeted (its idle timeout).
  void hang_up_all() {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto fd : connections_)
      ::shutdown(fd, both_ways);
  }

  std::vector<std::string> logins() {
    std::lock_guard<std::mutex> guard{mutex_};
    return logins_;
  }

  uint16_t port = 0;
  std::atomic<int> accepted{0};
  // The most greetings that waited for an answer at the same time.
  std::atomic<size_t> most_greeted_together{0};

private:
  bool refusing_ = false;
  size_t answer_together_ = 1;
  static bool read_exactly(native_socket fd, uint8_t* out, size_t n) {
    while (n > 0) {
      if (poll_native(fd, POLLIN, 2000) <= 0)
        return false;
#ifdef _WIN32
      auto r = ::recv(fd, reinterpret_cast<char*>(out), static_cast<int>(n), 0);
#else
      auto r = ::recv(fd, out, n, 0);
#endif
      if (r <= 0)
        return false;
      out += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

  void serve() {
    std::vector<native_socket> held; // greeted, not answered yet
    auto held_since = std::chrono::steady_clock::now();
    auto answer_held = [&] {
      most_greeted_together
          = std::max(most_greeted_together.load(), held.size());
      for (auto fd : held)
        log_in(fd);
      held.clear();
    };
    while (!stop_) {
      if (!held.empty() && std::chrono::steady_clock::now() - held_since >= 3s)
        answer_held();
      if (poll_native(listener_, POLLIN, 50) <= 0)
        continue;
      auto fd = ::accept(listener_, nullptr, nullptr);
      if (fd == no_socket)
        continue;
      accepted++;
      uint8_t b[260];
      // Greeting: 05 n methods...
      if (!read_exactly(fd, b, 2) || !read_exactly(fd, b + 2, b[1])) {
        close_native(fd);
        continue;
      }
      if (refusing_) {
        ::send(fd, "\x05\xff", 2, no_signal);
        close_native(fd);
        continue;
      }
      if (held.empty())
        held_since = std::chrono::steady_clock::now();
      held.push_back(fd);
      if (held.size() >= answer_together_)
        answer_held();
    }
    for (auto fd : held)
      close_native(fd);
  }

  // "Login, please"; the login: 01 ulen user plen pass; "welcome".
  void log_in(native_socket fd) {
    uint8_t b[600];
    ::send(fd, "\x05\x02", 2, no_signal);
    std::string login;
    if (read_exactly(fd, b, 2) && read_exactly(fd, b + 2, b[1] + 1u)) {
      login.assign(reinterpret_cast<char*>(b + 2), b[1]);
      size_t plen = b[2 + b[1]];
      if (read_exactly(fd, b, plen))
        login += ":" + std::string(reinterpret_cast<char*>(b), plen);
    }
    ::send(fd, "\x01\x00", 2, no_signal);
    std::lock_guard<std::mutex> guard{mutex_};
    logins_.push_back(login);
    connections_.push_back(fd);
  }

  native_socket listener_ = no_socket;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> logins_;
  std::vector<native_socket> connections_;
};

platform::spare_pool_options options_for(const login_proxy& proxy) {
  platform::spare_pool_options o;
  o.proxy = {net::ipv4_address{0x7f000001}, proxy.port};
  o.auth = true;
  o.login = "drover";
  o.password = "s3cret";
  o.spares = 2;
  o.connect_timeout = 5s;
  return o;
}

bool eventually(const std::function<bool()>& done) {
  return test::eventually(done, 10s, 5ms);
}

} // namespace

TEST(spare_pool, a_burst_gets_spares_greeted_and_logged_in_ahead) {
  login_proxy proxy;
  platform::spare_pool pool{options_for(proxy)};
  EXPECT_EQ(pool.take(), nullptr) << "a lone connection finds none";
  EXPECT_EQ(pool.stats().opened, 0u) << "and asks for none";
  EXPECT_EQ(pool.take(), nullptr); // the second in a second: a burst
  ASSERT_TRUE(eventually([&] { return pool.stats().opened >= 1; }));
  auto spare = pool.take();
  ASSERT_NE(spare, nullptr);
  ASSERT_NE(spare->fd, platform::invalid_socket);
  ASSERT_NE(spare->exchange, nullptr);
  EXPECT_EQ(spare->exchange->current(),
            net::socks5::client_handshake::stage::ready);
  auto request = spare->exchange->request(
      net::socks5::command::connect,
      net::socks5::address::from_ipv4(net::ipv4_address{0x0a000001}, 443));
  EXPECT_GT(request.size, 0u) << "the request goes alone";
  for (auto& login : proxy.logins())
    EXPECT_EQ(login, "drover:s3cret");
}

TEST(spare_pool, a_spare_the_proxy_ended_is_not_handed_over) {
  login_proxy proxy;
  platform::spare_pool pool{options_for(proxy)};
  for (int i = 0; i < 3; ++i) // three in a second: two spares wanted
    pool.take();
  ASSERT_TRUE(eventually([&] { return pool.stats().opened >= 2; }));
  proxy.hang_up_all();
  // The pool looks at its spares whenever it wakes (at least once a
  // second): both ends are seen. The burst still wants spares, so new ones
  // may be made; what is handed over is open.
  ASSERT_TRUE(eventually([&] { return pool.stats().ended >= 2; }));
  if (auto spare = pool.take()) {
    EXPECT_EQ(poll_native(static_cast<native_socket>(spare->fd), POLLIN, 0), 0)
        << "an ended spare was handed over";
  }
}

TEST(spare_pool, spares_live_no_longer_than_their_lifetime) {
  login_proxy proxy;
  auto o = options_for(proxy);
  o.lifetime = 200ms;
  platform::spare_pool pool{o};
  pool.take();
  pool.take();
  ASSERT_TRUE(eventually([&] { return pool.stats().opened >= 1; }));
  // The burst is two seconds over, and every spare past its lifetime: none
  // is left, and none is made again (the demand is gone).
  std::this_thread::sleep_for(2500ms);
  auto opened = pool.stats().opened;
  EXPECT_EQ(pool.take(), nullptr);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(pool.stats().opened, opened);
}

// A proxy that refuses the greeting pauses the spares for 5 s: the pool
// does not knock again and again (the sessions meet the refusal and
// report it themselves).
TEST(spare_pool, a_refused_greeting_pauses_the_spares) {
  login_proxy proxy{true};
  platform::spare_pool pool{options_for(proxy)};
  for (int i = 0; i < 3; ++i)
    pool.take();
  ASSERT_TRUE(eventually([&] { return pool.stats().failed >= 1; }));
  // The condition under test is the pause itself: a second of it, with the
  // burst still wanting spares, brings no new attempt.
  for (int i = 0; i < 3; ++i)
    pool.take();
  std::this_thread::sleep_for(1s);
  // The two the burst wanted went at once; none after them.
  auto attempts = proxy.accepted.load();
  EXPECT_LE(attempts, 2);
  EXPECT_EQ(pool.stats().failed, static_cast<uint64_t>(attempts));
  EXPECT_EQ(pool.stats().opened, 0u);
}

// A burst's spares are made at the same time, not one after another: each
// takes two or three round trips to the proxy, and a burst's connections
// come faster than that. The proxy answers no greeting until two wait.
TEST(spare_pool, a_bursts_spares_are_made_at_the_same_time) {
  login_proxy proxy{false, 2};
  platform::spare_pool pool{options_for(proxy)};
  for (int i = 0; i < 3; ++i) // three in a second: two spares wanted
    pool.take();
  ASSERT_TRUE(eventually([&] { return pool.stats().opened >= 2; }));
  EXPECT_EQ(proxy.most_greeted_together.load(), 2u)
      << "the second spare was begun only after the first was ready";
  EXPECT_EQ(pool.stats().failed, 0u);
  auto first = pool.take();
  auto second = pool.take();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  for (auto& login : proxy.logins())
    EXPECT_EQ(login, "drover:s3cret");
}
