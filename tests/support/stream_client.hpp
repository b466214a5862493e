#pragma once

// A client of a stream server that runs in the test's own process (the
// engine's brokers): its socket is made at once and connected later, so
// the descriptors the server's accepts get are the ones the test chose to
// leave free.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace drover::test {

class stream_client {
public:
  explicit stream_client(int domain)
      : fd_(::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~stream_client() { close(); }
  stream_client(const stream_client&) = delete;
  stream_client& operator=(const stream_client&) = delete;

  bool connect_unix(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof a.sun_path - 1);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  bool connect_loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  bool say(const std::string& text) {
    return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL)
           == static_cast<ssize_t>(text.size());
  }
  /// What arrived until the server closed (at most `limit`).
  std::string answer(std::chrono::milliseconds limit
                     = std::chrono::seconds{10}) {
    std::string got;
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return got;
      got.append(buf, static_cast<size_t>(n));
    }
    return got + "(no end within the limit)";
  }
  /// What arrived so far, without waiting; "(closed)" after an end.
  std::string so_far() {
    std::string got;
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0)
        return got + "(closed)";
      if (n < 0)
        return got;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
};

/// A loopback TCP port nobody listens on now (bound, read and let go).
inline uint16_t free_loopback_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

} // namespace drover::test
