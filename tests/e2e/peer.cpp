// drover-test-peer: the servers and clients of the end-to-end tests.
//
//   tcp-echo IP PORT          accept; send "peer A:P\n"; echo until EOF
//   http IP PORT              answer one GET per connection with the peer
//   udp-echo IP PORT          reply "peer A:P " + datagram to each datagram
//   udp-echo-on-cue IP PORT   the same, but every reply waits for a line
//                             on stdin; prints "got K" as datagrams come
//                             and "answered K" once it replied (a reply
//                             that must come after its sender is gone)
//   tcp-client IP PORT N      N parallel connections; each checks its
//                             getpeername, reads the banner, sends a
//                             message, half-closes, reads the echo
//   http-get IP PORT          one GET, prints the body
//   udp-client IP PORT N MODE N datagrams (MODE connected|unconnected);
//                             checks that replies come from IP:PORT
//   udp-broadcast IP PORT     one datagram to broadcast address IP (with
//                             SO_BROADCAST); prints "answered by A, seen
//                             from S" (S: the sender as the echo saw it),
//                             "no answer", or "fail: ERROR"
//   wait-then-tcp IP PORT N   reads a line from stdin first (the test says
//                             when), then behaves like tcp-client
//   wait-then-udp IP PORT N MODE  the same for udp-client
//   rounds-of-tcp IP PORT N   tcp-client again for every line on stdin,
//                             each ending with "round ok" or "round failed"
//   wait-then-tcp6 IP6 PORT   reads a line, then tries IPv6 for 3 s and
//                             prints "connected", "refused", "refused at
//                             once: ERROR" or "blocked"
//   tcp6 IP PORT              the same without waiting for a line (IPv4
//                             too, despite its name)
//   udp-burst IP PORT N       N datagrams from 100 sockets as fast as
//                             they take them, no replies awaited; prints
//                             "sent K" (K datagrams taken)
//
// Measuring modes (bench/engine_bench.cpp): see peer_measure.cpp.
//
// Target modes (the leak harness): see peer_targets.cpp.
//
// Clients print one "seen <peer the server saw>" line per exchange and end
// with "ok N" (exit 0) or "fail ..." (exit 1). Every wait has a timeout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/e2e/peer_common.hpp"

namespace {

using namespace drover::test::peer;

int tcp_server(const char* ip, int port, bool http) {
  int fd = listener(ip, port, SOCK_STREAM);
  std::printf("listening\n");
  std::fflush(stdout);
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int c = accept(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    if (c < 0)
      continue;
    std::thread{[c, peer, http] {
      if (http) {
        char buf[2048];
        if (wait_readable(c))
          (void)!recv(c, buf, sizeof buf, 0);
        auto body = "peer " + text(peer) + "\n";
        send_all(c, "HTTP/1.0 200 OK\r\nContent-Length: "
                        + std::to_string(body.size()) + "\r\n\r\n" + body);
      } else {
        send_all(c, "peer " + text(peer) + "\n");
        char buf[65536];
        while (wait_readable(c)) {
          auto n = recv(c, buf, sizeof buf, 0);
          if (n <= 0)
            break;
          send_all(c, std::string(buf, static_cast<size_t>(n)));
        }
      }
      close(c);
    }}.detach();
  }
}

int udp_server(const char* ip, int port) {
  int fd = listener(ip, port, SOCK_DGRAM);
  std::printf("listening\n");
  std::fflush(stdout);
  char buf[65536];
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    auto n = recvfrom(fd, buf, sizeof buf, 0,
                      reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0)
      continue;
    auto reply
        = "peer " + text(peer) + " " + std::string(buf, static_cast<size_t>(n));
    sendto(fd, reply.data(), reply.size(), 0,
           reinterpret_cast<sockaddr*>(&peer), len);
  }
}

int udp_echo_on_cue(const char* ip, int port) {
  int fd = listener(ip, port, SOCK_DGRAM);
  std::printf("listening\n");
  std::fflush(stdout);
  std::vector<std::pair<sockaddr_in, std::string>> held;
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(p, 2, -1) < 0)
      continue;
    if ((p[0].revents & POLLIN) != 0) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      auto n = recvfrom(fd, buf, sizeof buf, 0,
                        reinterpret_cast<sockaddr*>(&peer), &len);
      if (n >= 0) {
        held.emplace_back(peer, std::string(buf, static_cast<size_t>(n)));
        std::printf("got %zu\n", held.size());
        std::fflush(stdout);
      }
    }
    if ((p[1].revents & (POLLIN | POLLHUP)) != 0) {
      for (auto& [peer, data] : held) {
        auto reply = "peer " + text(peer) + " " + data;
        sendto(fd, reply.data(), reply.size(), 0,
               reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
      }
      std::printf("answered %zu\n", held.size());
      std::fflush(stdout);
      return 0;
    }
  }
}

// LAN discovery's shape: one datagram to a broadcast address, any answer.
int udp_broadcast(const char* ip, int port) {
  auto a = address(ip, port);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  if (sendto(fd, "hello", 5, 0, reinterpret_cast<sockaddr*>(&a), sizeof a)
      < 0) {
    std::printf("fail: %s\n", std::strerror(errno));
    return 1;
  }
  if (!wait_readable(fd)) {
    std::printf("no answer\n");
    return 1;
  }
  char buf[2048];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  auto got = recvfrom(fd, buf, sizeof buf - 1, 0,
                      reinterpret_cast<sockaddr*>(&from), &len);
  close(fd);
  if (got < 0) {
    std::printf("fail: %s\n", std::strerror(errno));
    return 1;
  }
  // The echo's "peer ADDRESS hello".
  std::string reply(buf, static_cast<size_t>(got));
  auto space = reply.find(' ', 5);
  std::printf(
      "answered by %s, seen from %s\n", inet_ntoa(from.sin_addr),
      reply
          .substr(5, space == std::string::npos ? std::string::npos : space - 5)
          .c_str());
  return 0;
}

std::mutex out_mutex;

// One TCP exchange; returns "" on success or what went wrong.
std::string tcp_exchange(const char* ip, int port, int i) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = address(ip, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return std::string{"connect: "} + std::strerror(errno);
  }
  sockaddr_in got{};
  socklen_t len = sizeof got;
  getpeername(fd, reinterpret_cast<sockaddr*>(&got), &len);
  if (text(got) != text(a)) {
    close(fd);
    return "getpeername is " + text(got) + ", not " + text(a);
  }
  auto message = "message " + std::to_string(i) + "\n";
  if (!send_all(fd, message)) {
    close(fd);
    return "send failed";
  }
  shutdown(fd, SHUT_WR); // the echo must still come back (half-close)
  auto reply = read_all(fd);
  close(fd);
  auto nl = reply.find('\n');
  if (nl == std::string::npos || reply.substr(nl + 1) != message)
    return "bad reply: " + reply;
  std::lock_guard<std::mutex> guard{out_mutex};
  std::printf("seen %s\n", reply.substr(5, nl - 5).c_str());
  return {};
}

int tcp_client(const char* ip, int port, int n) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      errors[static_cast<size_t>(i)] = tcp_exchange(ip, port, i);
      if (errors[static_cast<size_t>(i)].empty())
        ++ok;
    });
  for (auto& t : threads)
    t.join();
  if (ok == n) {
    std::printf("ok %d\n", n);
    return 0;
  }
  for (auto& e : errors)
    if (!e.empty()) {
      std::printf("fail %d of %d: %s\n", n - ok.load(), n, e.c_str());
      break;
    }
  return 1;
}

int http_get(const char* ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = address(ip, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::printf("fail connect: %s\n", std::strerror(errno));
    return 1;
  }
  send_all(fd, std::string{"GET / HTTP/1.0\r\nHost: "} + ip + "\r\n\r\n");
  auto reply = read_all(fd);
  close(fd);
  auto body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.0 200 OK", 0) != 0 || body == std::string::npos) {
    std::printf("fail response: %s\n", reply.c_str());
    return 1;
  }
  std::printf("seen %s", reply.substr(body + 4 + 5).c_str());
  std::printf("ok 1\n");
  return 0;
}

// A burst the engine cannot keep up with while it stalls: from 100
// sockets, because each socket's send buffer holds only a few hundred
// queued datagrams (the kernel charges a queued packet to its socket, so
// one socket would just wait). What does not fit in the capture queue is
// dropped by the kernel, and counted.
int udp_burst(const char* ip, int port, int n) {
  auto a = address(ip, port);
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i)
    fds.push_back(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0));
  int sent = 0;
  for (int i = 0; i < n; ++i)
    if (sendto(fds[static_cast<size_t>(i) % fds.size()], "burst", 5, 0,
               reinterpret_cast<sockaddr*>(&a), sizeof a)
        == 5)
      ++sent;
  for (int fd : fds)
    close(fd);
  std::printf("sent %d\n", sent);
  return 0;
}

int udp_client(const char* ip, int port, int n, bool connected) {
  auto a = address(ip, port);
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (connected)
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    auto message = "datagram " + std::to_string(i);
    auto sent = connected ? send(fd, message.data(), message.size(), 0)
                          : sendto(fd, message.data(), message.size(), 0,
                                   reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (sent < 0) {
      std::printf("fail %d: send: %s\n", i, std::strerror(errno));
      return 1;
    }
    if (!wait_readable(fd)) {
      std::printf("fail %d: no reply\n", i);
      return 1;
    }
    char buf[2048];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    auto got = recvfrom(fd, buf, sizeof buf, 0,
                        reinterpret_cast<sockaddr*>(&from), &len);
    int error = errno;
    close(fd);
    if (got < 0) { // "Connection refused": a port unreachable came back
      std::printf("fail %d: %s\n", i, std::strerror(error));
      return 1;
    }
    std::string reply(buf, static_cast<size_t>(got));
    if (text(from) != text(a)) {
      std::printf("fail %d: reply from %s, not %s\n", i, text(from).c_str(),
                  text(a).c_str());
      return 1;
    }
    auto space = reply.find(' ', 5);
    if (space == std::string::npos || reply.substr(space + 1) != message) {
      std::printf("fail %d: bad reply %s\n", i, reply.c_str());
      return 1;
    }
    std::printf("seen %s\n", reply.substr(5, space - 5).c_str());
    ++ok;
  }
  std::printf("ok %d\n", ok);
  return 0;
}

// Waits for "go" on stdin (`wait`), then tries a TCP connection (IPv6, or
// IPv4 when `ip` has no colon) for
// 3 s: prints "connected", "refused" (a reset came back), "refused at
// once: ERROR" (connect() itself failed) or "blocked" (silence).
int tcp6_probe(const char* ip, int port, bool wait) {
  std::string line;
  if (wait)
    std::getline(std::cin, line);
  bool v6 = std::strchr(ip, ':') != nullptr;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET6, ip, &a6.sin6_addr);
  auto a4 = address(ip, port);
  int rc = v6 ? connect(fd, reinterpret_cast<sockaddr*>(&a6), sizeof a6)
              : connect(fd, reinterpret_cast<sockaddr*>(&a4), sizeof a4);
  if (rc != 0 && errno != EINPROGRESS) {
    std::printf("refused at once: %s\n", std::strerror(errno));
    close(fd);
    return 0;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  bool answered = poll(&p, 1, 3000) == 1
                  && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0;
  // "refused": the network answered (a reset from a closed port).
  std::printf(!answered             ? "blocked\n"
              : err == 0            ? "connected\n"
              : err == ECONNREFUSED ? "refused\n"
                                    : "blocked\n");
  close(fd);
  return 0;
}

} // namespace

int target_mode(const std::string& mode, int argc, char** argv);
int measure_mode(const std::string& mode, int argc, char** argv);

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc >= 2) {
    if (int rc = target_mode(argv[1], argc, argv); rc >= 0)
      return rc;
    if (int rc = measure_mode(argv[1], argc, argv); rc >= 0)
      return rc;
  }
  if (argc < 4) {
    std::fprintf(stderr, "usage: see the top of tests/e2e/peer.cpp\n");
    return 2;
  }
  std::string mode = argv[1];
  const char* ip = argv[2];
  int port = std::atoi(argv[3]);
  int n = argc > 4 ? std::atoi(argv[4]) : 1;
  if (mode == "tcp-echo")
    return tcp_server(ip, port, false);
  if (mode == "http")
    return tcp_server(ip, port, true);
  if (mode == "udp-echo")
    return udp_server(ip, port);
  if (mode == "udp-echo-on-cue")
    return udp_echo_on_cue(ip, port);
  if (mode == "tcp-client")
    return tcp_client(ip, port, n);
  if (mode == "http-get")
    return http_get(ip, port);
  if (mode == "udp-broadcast")
    return udp_broadcast(ip, port);
  if (mode == "udp-burst")
    return udp_burst(ip, port, n);
  if (mode == "udp-client")
    return udp_client(ip, port, n,
                      argc > 5 && std::string{argv[5]} == "connected");
  if (mode == "wait-then-tcp") {
    std::string line;
    std::getline(std::cin, line);
    return tcp_client(ip, port, n);
  }
  if (mode == "rounds-of-tcp") {
    // One process (captured once) that connects again on every line.
    for (std::string line; std::getline(std::cin, line);) {
      int rc = tcp_client(ip, port, n);
      std::printf("round %s\n", rc == 0 ? "ok" : "failed");
      std::fflush(stdout);
    }
    return 0;
  }
  if (mode == "wait-then-udp") {
    std::string line;
    std::getline(std::cin, line);
    return udp_client(ip, port, n,
                      argc > 5 && std::string{argv[5]} == "connected");
  }
  if (mode == "wait-then-tcp6" || mode == "tcp6")
    return tcp6_probe(ip, port, mode == "wait-then-tcp6");
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
