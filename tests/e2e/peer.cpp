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
//   tcp6 IP6 PORT             the same without waiting for a line
//   udp-burst IP PORT N       N datagrams from 100 sockets as fast as
//                             they take them, no replies awaited; prints
//                             "sent K" (K datagrams taken)
//
// Measuring modes (bench/engine_bench.cpp):
//   sink IP PORT                count what arrives, reply with the count
//   source IP PORT              send the MiB a connection asks for ("N\n")
//   bulk-down IP PORT MIB [PROXY]  fetch MIB MiB from a source; prints
//                               "mib_per_s X"
//   bulk IP PORT MIB [PROXY]    send MIB MiB (through SOCKS5 PROXY=ip:port
//                               when given); prints "mib_per_s X"
//   udp-rtt IP PORT N [PROXY]   N ping-pongs (through UDP ASSOCIATE when
//                               PROXY is given); prints "p50_us X p99_us Y
//                               p999_us Z"
//   conn-rate IP PORT N [PROXY] N sequential connect-exchange-close;
//                               prints the addresses the server saw
//                               ("seen_from A,B"), "conns_per_s X" and the
//                               percentiles of each one's time to the server's
//                               banner
//   hold IP PORT N              open N connections, print "held N", keep
//                               them until a line or EOF on stdin
//   wait-then-hold IP PORT N    the same after a first line on stdin
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

#include "net/socks5.hpp"

namespace {

constexpr int timeout_ms = 10000;

sockaddr_in address(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

std::string text(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string{ip} + ":" + std::to_string(ntohs(a.sin_port));
}

bool wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

bool send_all(int fd, std::string_view s) {
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
std::string read_all(int fd) {
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

int listener(const char* ip, int port, int type) {
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

// -- measuring modes -----------------------------------------------------

using bench_clock = std::chrono::steady_clock;

bool parse_endpoint(const std::string& s, std::string& ip, int& port) {
  auto colon = s.find(':');
  if (colon == std::string::npos)
    return false;
  ip = s.substr(0, colon);
  port = std::atoi(s.c_str() + colon + 1);
  return true;
}

bool read_exact(int fd, uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    if (!wait_readable(fd))
      return false;
    auto r = recv(fd, buf + got, n - got, 0);
    if (r <= 0)
      return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

// A TCP connection to ip:port, through a SOCKS5 proxy ("" for direct).
// Returns -1 on failure; for UDP ASSOCIATE, `relay` gets the relay.
int socks_connect(const std::string& proxy, const char* ip, int port,
                  drover::net::socks5::command cmd,
                  drover::net::socks5::address* relay = nullptr) {
  namespace s5 = drover::net::socks5;
  std::string pip = ip;
  int pport = port;
  if (!proxy.empty() && !parse_endpoint(proxy, pip, pport))
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto a = address(pip.c_str(), pport);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  if (proxy.empty())
    return fd;
  uint8_t buf[300];
  auto n = s5::encode_greeting(buf, sizeof buf, false);
  send(fd, buf, n, 0);
  if (!read_exact(fd, buf, 2) || buf[1] != 0) {
    close(fd);
    return -1;
  }
  auto dst = s5::address::from_ipv4(*drover::net::parse_ipv4(ip),
                                    static_cast<uint16_t>(port));
  if (cmd == s5::command::udp_associate)
    dst = s5::address::from_ipv4(drover::net::ipv4_address{0}, 0);
  n = s5::encode_request(buf, sizeof buf, cmd, dst);
  send(fd, buf, n, 0);
  if (!read_exact(fd, buf, 10)) { // IPv4 replies are 10 bytes (dante's are)
    close(fd);
    return -1;
  }
  s5::address bound;
  if (!s5::parse_reply(buf, 10, bound).done()) {
    close(fd);
    return -1;
  }
  if (relay != nullptr)
    *relay = s5::relay_address(bound, *drover::net::parse_ipv4(pip));
  return fd;
}

// Accepts forever; each connection is handled on a thread of its own,
// then closed.
template<class Handler>
int serve_each(const char* ip, int port, Handler handle) {
  int fd = listener(ip, port, SOCK_STREAM);
  std::printf("listening\n");
  std::fflush(stdout);
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0)
      continue;
    std::thread{[c, handle] {
      handle(c);
      close(c);
    }}.detach();
  }
}

int sink_server(const char* ip, int port) {
  return serve_each(ip, port, [](int c) {
    std::vector<char> buf(1 << 20);
    uint64_t total = 0;
    for (;;) {
      auto n = recv(c, buf.data(), buf.size(), 0);
      if (n <= 0)
        break;
      total += static_cast<uint64_t>(n);
    }
    send_all(c, std::to_string(total) + "\n");
  });
}

// The download side of the bench: each connection names how many MiB it
// wants ("N\n"), gets them and the end of the stream.
int source_server(const char* ip, int port) {
  return serve_each(ip, port, [](int c) {
    std::string line;
    char ch;
    while (recv(c, &ch, 1, 0) == 1 && ch != '\n')
      line += ch;
    auto mib = std::strtoull(line.c_str(), nullptr, 10);
    std::string chunk(1 << 20, 's');
    for (uint64_t i = 0; i < mib; ++i)
      if (!send_all(c, chunk))
        break;
  });
}

int bulk_down(const char* ip, int port, int mib, const std::string& proxy) {
  int fd
      = socks_connect(proxy, ip, port, drover::net::socks5::command::connect);
  if (fd < 0) {
    std::printf("fail connect\n");
    return 1;
  }
  auto start = bench_clock::now();
  send_all(fd, std::to_string(mib) + "\n");
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    auto n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0)
      break;
    total += static_cast<uint64_t>(n);
  }
  auto seconds
      = std::chrono::duration<double>(bench_clock::now() - start).count();
  close(fd);
  if (total != uint64_t(mib) << 20) {
    std::printf("fail count %llu\n", static_cast<unsigned long long>(total));
    return 1;
  }
  std::printf("mib_per_s %.1f\n", mib / seconds);
  return 0;
}

int bulk(const char* ip, int port, int mib, const std::string& proxy) {
  int fd
      = socks_connect(proxy, ip, port, drover::net::socks5::command::connect);
  if (fd < 0) {
    std::printf("fail connect\n");
    return 1;
  }
  const std::string chunk(1 << 20, 'b'); // sent as it is, never copied
  auto start = bench_clock::now();
  for (int i = 0; i < mib; ++i)
    if (!send_all(fd, chunk)) {
      std::printf("fail send\n");
      return 1;
    }
  shutdown(fd, SHUT_WR);
  auto reply = read_all(fd); // the sink's count: everything arrived
  auto seconds
      = std::chrono::duration<double>(bench_clock::now() - start).count();
  close(fd);
  if (std::strtoull(reply.c_str(), nullptr, 10) != uint64_t(mib) << 20) {
    std::printf("fail count %s\n", reply.c_str());
    return 1;
  }
  std::printf("mib_per_s %.1f\n", mib / seconds);
  return 0;
}

void print_percentiles(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  std::printf("p50_us %.1f p99_us %.1f p999_us %.1f\n", us[us.size() / 2],
              us[us.size() * 99 / 100], us[us.size() * 999 / 1000]);
}

int udp_rtt(const char* ip, int port, int n, const std::string& proxy) {
  namespace s5 = drover::net::socks5;
  int control = -1;
  s5::address relay;
  sockaddr_in to = address(ip, port);
  if (!proxy.empty()) {
    control
        = socks_connect(proxy, ip, port, s5::command::udp_associate, &relay);
    if (control < 0) {
      std::printf("fail associate\n");
      return 1;
    }
    to = address(drover::net::to_string(relay.ipv4).c_str(), relay.port);
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  auto dst = s5::address::from_ipv4(*drover::net::parse_ipv4(ip),
                                    static_cast<uint16_t>(port));
  std::vector<double> us;
  uint8_t out[256], in[2048];
  for (int i = 0; i < n; ++i) {
    size_t h = proxy.empty() ? 0 : s5::write_udp_header(out, sizeof out, dst);
    std::memset(out + h, 'v', 100); // a voice-sized payload
    auto start = bench_clock::now();
    send(fd, out, h + 100, 0);
    if (!wait_readable(fd) || recv(fd, in, sizeof in, 0) <= 0) {
      std::printf("fail %d: no reply\n", i);
      return 1;
    }
    us.push_back(
        std::chrono::duration<double, std::micro>(bench_clock::now() - start)
            .count());
  }
  print_percentiles(us);
  if (control >= 0)
    close(control);
  return 0;
}

int conn_rate(const char* ip, int port, int n, const std::string& proxy) {
  auto start = bench_clock::now();
  std::vector<double> us; // each connection's, to its banner
  us.reserve(static_cast<size_t>(n));
  std::string seen_from; // the addresses the server saw, once each
  for (int i = 0; i < n; ++i) {
    auto began = bench_clock::now();
    int fd
        = socks_connect(proxy, ip, port, drover::net::socks5::command::connect);
    char banner[64];
    ssize_t got = -1;
    if (fd < 0 || !wait_readable(fd)
        || (got = recv(fd, banner, sizeof banner, 0)) <= 0) {
      std::printf("fail %d\n", i);
      return 1;
    }
    us.push_back(
        std::chrono::duration<double, std::micro>(bench_clock::now() - began)
            .count());
    close(fd);
    // "peer A:P\n": the bench checks which way the connections went.
    std::string line{banner, static_cast<size_t>(got)};
    auto colon = line.rfind(':');
    if (line.rfind("peer ", 0) == 0 && colon != std::string::npos) {
      auto from = line.substr(5, colon - 5);
      if (("," + seen_from + ",").find("," + from + ",") == std::string::npos)
        seen_from += (seen_from.empty() ? "" : ",") + from;
    }
  }
  auto seconds
      = std::chrono::duration<double>(bench_clock::now() - start).count();
  std::printf("seen_from %s conns_per_s %.0f ", seen_from.c_str(), n / seconds);
  print_percentiles(us);
  return 0;
}

int hold(const char* ip, int port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = socks_connect("", ip, port, drover::net::socks5::command::connect);
    if (fd < 0) {
      std::printf("fail after %d: %s\n", i, std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  std::printf("held %d\n", n);
  std::fflush(stdout);
  std::string line;
  std::getline(std::cin, line);
  for (int fd : fds)
    close(fd);
  return 0;
}

// Waits for "go" on stdin (`wait`), then tries an IPv6 TCP connection for
// 3 s: prints "connected", "refused" (a reset came back), "refused at
// once: ERROR" (connect() itself failed) or "blocked" (silence).
int tcp6_probe(const char* ip, int port, bool wait) {
  std::string line;
  if (wait)
    std::getline(std::cin, line);
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      && errno != EINPROGRESS) {
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

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc >= 2) {
    if (int rc = target_mode(argv[1], argc, argv); rc >= 0)
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
  std::string proxy = argc > 5 ? argv[5] : "";
  if (mode == "sink")
    return sink_server(ip, port);
  if (mode == "bulk")
    return bulk(ip, port, n, proxy);
  if (mode == "source")
    return source_server(ip, port);
  if (mode == "bulk-down")
    return bulk_down(ip, port, n, proxy);
  if (mode == "udp-rtt")
    return udp_rtt(ip, port, n, proxy);
  if (mode == "conn-rate")
    return conn_rate(ip, port, n, proxy);
  if (mode == "hold")
    return hold(ip, port, n);
  if (mode == "wait-then-hold") {
    std::string line;
    std::getline(std::cin, line);
    return hold(ip, port, n);
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
