// The sessions' spare proxy connections (actors/platform/spare_pool.hpp)
// against a small SOCKS5 server on loopback that asks for a login: spares
// only for a burst, greeted and logged in ahead, handed over ready for the
// request; one the proxy ended is never handed over; none outlives its
// lifetime.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/platform/spare_pool.hpp"
#include "tests/support/eventually.hpp"

using namespace drover;
using namespace std::chrono_literals;

namespace {

// Accepts; answers a greeting offering the login with "login, please",
// checks the login, answers it, then keeps the connection until told.
class login_proxy {
public:
  login_proxy() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
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
    ::close(listener_);
    for (int fd : connections_)
      ::close(fd);
  }

  // Ends every connection it greeted (its idle timeout).
  void hang_up_all() {
    std::lock_guard<std::mutex> guard{mutex_};
    for (int& fd : connections_)
      ::shutdown(fd, SHUT_RDWR);
  }

  std::vector<std::string> logins() {
    std::lock_guard<std::mutex> guard{mutex_};
    return logins_;
  }

  uint16_t port = 0;

private:
  static bool read_exactly(int fd, uint8_t* out, size_t n) {
    while (n > 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0)
        return false;
      auto r = ::recv(fd, out, n, 0);
      if (r <= 0)
        return false;
      out += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

  void serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      uint8_t b[600];
      // Greeting: 05 n methods...; the login: 01 ulen user plen pass.
      if (!read_exactly(fd, b, 2) || !read_exactly(fd, b + 2, b[1])) {
        ::close(fd);
        continue;
      }
      ::send(fd, "\x05\x02", 2, MSG_NOSIGNAL);
      std::string login;
      if (read_exactly(fd, b, 2) && read_exactly(fd, b + 2, b[1] + 1u)) {
        login.assign(reinterpret_cast<char*>(b + 2), b[1]);
        size_t plen = b[2 + b[1]];
        if (read_exactly(fd, b, plen))
          login += ":" + std::string(reinterpret_cast<char*>(b), plen);
      }
      ::send(fd, "\x01\x00", 2, MSG_NOSIGNAL);
      std::lock_guard<std::mutex> guard{mutex_};
      logins_.push_back(login);
      connections_.push_back(fd);
    }
  }

  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> logins_;
  std::vector<int> connections_;
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
    pollfd p{spare->fd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "an ended spare was handed over";
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
