#include "actors/platform/proxy_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socks5.hpp"

namespace drover::platform {

namespace {

namespace socks5 = net::socks5;
using clock = std::chrono::steady_clock;

// One TCP connection to the proxy, every wait bounded by the deadline.
class probe_connection {
public:
  explicit probe_connection(clock::time_point deadline) : deadline_(deadline) {}
  net::socks5::error protocol_error = net::socks5::error::none;

  ~probe_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  probe_connection(const probe_connection&) = delete;
  probe_connection& operator=(const probe_connection&) = delete;

  // "" on success, else what went wrong.
  std::string connect(net::endpoint to) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0)
      return std::strerror(errno);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(to.port);
    a.sin_addr.s_addr = htonl(to.ip.value);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
      return "";
    if (errno != EINPROGRESS)
      return std::strerror(errno);
    if (!wait(POLLOUT))
      return "no answer (timed out)";
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0 ? "" : std::strerror(err);
  }

  std::string send_all(const uint8_t* data, size_t n) {
    while (n > 0) {
      if (!wait(POLLOUT))
        return "timed out while sending";
      auto sent = ::send(fd_, data, n, MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EINTR)
        return std::strerror(errno);
      if (sent > 0) {
        data += sent;
        n -= static_cast<size_t>(sent);
      }
    }
    return "";
  }

  // Reads until `parse` says done or failed; "" on success.
  template<class Parse>
  std::string receive(Parse&& parse) {
    for (;;) {
      auto s = parse(buf_, used_);
      if (s.failed()) {
        protocol_error = s.err;
        return socks5::message(s.err);
      }
      if (s.done()) {
        std::memmove(buf_, buf_ + s.consumed, used_ - s.consumed);
        used_ -= s.consumed;
        return "";
      }
      if (used_ == sizeof buf_)
        return "the proxy sent an oversized answer";
      if (!wait(POLLIN))
        return "the proxy did not answer in time";
      auto n = ::recv(fd_, buf_ + used_, sizeof buf_ - used_, 0);
      if (n == 0)
        return "the proxy closed the connection";
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return std::strerror(errno);
      if (n > 0)
        used_ += static_cast<size_t>(n);
    }
  }

private:
  bool wait(short events) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - clock::now());
      if (left.count() <= 0)
        return false;
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0)
        return true;
      if (r < 0 && errno != EINTR)
        return false;
    }
  }

  int fd_ = -1;
  clock::time_point deadline_;
  uint8_t buf_[600];
  size_t used_ = 0;
};

uint32_t micros_since(clock::time_point t) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t)
          .count());
}

} // namespace

probe_result probe_proxy(const probe_request& request) {
  probe_result out;
  auto deadline = clock::now() + request.budget;
  probe_connection c{deadline};
  // Runs one step; false (and the check's verdict set) when it failed.
  auto step = [&](const char* name, probe_verdict on_failure, auto&& body) {
    auto start = clock::now();
    std::string error = body();
    probe_step s{name, error.empty(), micros_since(start), error};
    out.steps.push_back(s);
    if (!s.ok) {
      out.verdict = on_failure;
      out.reason = std::string{name} + ": " + error;
    }
    return s.ok;
  };
  auto unreachable = probe_verdict::unreachable;
  bool ok = step("TCP connect", unreachable,
                 [&] { return c.connect(request.proxy); });
  socks5::method chosen = socks5::method::no_auth;
  ok = ok && step("greeting", unreachable, [&] {
         uint8_t buf[4];
         auto e = c.send_all(
             buf, socks5::encode_greeting(buf, sizeof buf, request.auth));
         if (!e.empty())
           return e;
         return c.receive([&](const uint8_t* d, size_t n) {
           return socks5::parse_method_selection(d, n, request.auth, chosen);
         });
       });
  if (ok && chosen == socks5::method::username_password)
    ok = step("authentication", unreachable, [&] {
      uint8_t buf[600];
      auto n = socks5::encode_auth(buf, sizeof buf, request.login,
                                   request.password);
      if (n == 0)
        return std::string{
            socks5::message(socks5::error::credentials_too_long)};
      auto e = c.send_all(buf, n);
      if (!e.empty())
        return e;
      return c.receive([](const uint8_t* d, size_t len) {
        return socks5::parse_auth_reply(d, len);
      });
    });
  if (ok && request.udp_associate)
    ok = step("UDP ASSOCIATE", unreachable, [&] {
      uint8_t buf[64];
      auto any = socks5::address::from_ipv4(net::ipv4_address{0}, 0);
      auto e = c.send_all(
          buf, socks5::encode_request(buf, sizeof buf,
                                      socks5::command::udp_associate, any));
      if (!e.empty())
        return e;
      socks5::address bound;
      return c.receive([&](const uint8_t* d, size_t n) {
        return socks5::parse_reply(d, n, bound);
      });
    });
  // Answers no retry will change: wrong credentials, credentials the proxy
  // wants but Drover was not given, or no SOCKS5 proxy at all.
  if (c.protocol_error == socks5::error::auth_rejected) {
    out.verdict = probe_verdict::auth_rejected;
    out.reason = "authentication rejected: the proxy did not accept the "
                 "login and password";
  } else if (c.protocol_error == socks5::error::no_acceptable_method) {
    out.verdict = probe_verdict::auth_rejected;
    out.reason = "the proxy wants a login method Drover was not configured "
                 "for (set [proxy] auth, login and password)";
  } else if (c.protocol_error == socks5::error::not_socks5) {
    out.verdict = probe_verdict::not_socks5;
    out.reason = "the server at the proxy address is not a SOCKS5 proxy";
  }
  if (ok)
    out.verdict = probe_verdict::ok;
  return out;
}

} // namespace drover::platform
