// drover-test-peer's measuring modes (bench/engine_bench.cpp), beside the
// test servers and clients of peer.cpp.
//
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

#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/socks5.hpp"
#include "tests/e2e/peer_common.hpp"

namespace {

using namespace drover::test::peer;

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

} // namespace

// The measuring mode `mode` with its arguments (argv[2] on), or -1 when
// `mode` is not one.
int measure_mode(const std::string& mode, int argc, char** argv) {
  if (argc < 4)
    return -1;
  const char* ip = argv[2];
  int port = std::atoi(argv[3]);
  int n = argc > 4 ? std::atoi(argv[4]) : 1;
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
  return -1;
}
