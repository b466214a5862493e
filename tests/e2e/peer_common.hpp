#pragma once

// drover-test-peer's socket helpers, shared by its modes (peer.cpp, the
// test servers and clients; peer_measure.cpp, the bench's). Every wait
// has a timeout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace drover::test::peer {

constexpr int timeout_ms = 10000;

inline sockaddr_in address(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

inline std::string text(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string{ip} + ":" + std::to_string(ntohs(a.sin_port));
}

inline bool wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

inline bool send_all(int fd, std::string_view s) {
  size_t done = 0;
  while (done < s.size()) {
    auto n = send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads until EOF (or a timeout): returns what arrived.
inline std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  while (wait_readable(fd)) {
    auto n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

inline int listener(const char* ip, int port, int type) {
  int fd = socket(AF_INET, type, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = address(ip, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("bind");
    std::exit(2);
  }
  if (type == SOCK_STREAM)
    listen(fd, 1024);
  return fd;
}

} // namespace drover::test::peer
