// What handing a local program's TCP connection to a local listener costs,
// two ways (Linux, root), in namespaces of the bench's own, in one run:
//
//   build/bench/bench_local_redirect [CONNECTIONS=4000] [ROUNDS=5]
//
// - nat REDIRECT (what the capture does today): conntrack follows the
//   connection, the listener reads the destination with SO_ORIGINAL_DST;
// - TPROXY through a policy route to lo, untracked (what the capture does
//   for UDP): no conntrack, the accepted socket's own address is the
//   destination.
// A client connects to 198.51.100.1:443 (routed out of a veth, never
// reached), the listener accepts, reads the destination, writes a banner
// and closes; the client reads it and closes: sequentially, CONNECTIONS
// times a round, the two ways taking turns. Reported: each way's
// connections a second and p50 (medians of the rounds), and the ratio
// TPROXY / REDIRECT of the rates.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/netns.hpp"

#ifndef SO_ORIGINAL_DST
#  define SO_ORIGINAL_DST 80 // <linux/netfilter_ipv4.h>
#endif

using drover::test::sh;

namespace {

using bench_clock = std::chrono::steady_clock;
constexpr uint16_t listener_port = 7000;
constexpr const char* remote = "198.51.100.1";

struct round_result {
  double per_second = 0;
  double p50_us = 0;
  bool ok = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// One round inside the calling thread's namespace.
round_result run_round(bool tproxy, int n) {
  round_result r;
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (tproxy)
    ::setsockopt(l, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(listener_port);
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0
      || ::listen(l, 128) != 0) {
    std::perror("listener");
    ::close(l);
    return r;
  }
  int wrong = 0;
  std::thread server{[&] {
    for (int i = 0; i < n; ++i) {
      int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        return;
      sockaddr_in dst{};
      socklen_t len = sizeof dst;
      int got = tproxy
                    ? ::getsockname(c, reinterpret_cast<sockaddr*>(&dst), &len)
                    : ::getsockopt(c, SOL_IP, SO_ORIGINAL_DST, &dst, &len);
      if (got != 0 || ntohs(dst.sin_port) != 443)
        ++wrong;
      (void)!::write(c, "banner\n", 7);
      ::close(c);
    }
  }};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(443);
  ::inet_pton(AF_INET, remote, &to.sin_addr);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  auto start = bench_clock::now();
  int done = 0;
  for (; done < n; ++done) {
    auto began = bench_clock::now();
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char banner[16];
    bool fine = ::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0
                && ::read(s, banner, sizeof banner) > 0;
    ::close(s);
    if (!fine)
      break;
    us.push_back(
        std::chrono::duration<double, std::micro>(bench_clock::now() - began)
            .count());
  }
  auto seconds
      = std::chrono::duration<double>(bench_clock::now() - start).count();
  ::shutdown(l, SHUT_RDWR); // a server still in accept() ends
  server.join();
  ::close(l);
  r.ok = done == n && wrong == 0;
  if (!r.ok)
    std::printf("  %s: %d of %d connections, %d with a wrong destination\n",
                tproxy ? "TPROXY" : "REDIRECT", done, n, wrong);
  r.per_second = done / seconds;
  r.p50_us = median(us);
  return r;
}

} // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::printf("needs root (namespaces, iptables)\n");
    return 77;
  }
  int n = argc > 1 ? std::atoi(argv[1]) : 4000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (n < 1 || rounds < 1) {
    std::printf("usage: bench_local_redirect [CONNECTIONS] [ROUNDS]\n");
    return 2;
  }
  // The client's namespace, with a route out for the remote through a
  // veth (the peer answers nothing: every connection is handed over).
  drover::test::veth_pair net{"lr", 231};
  auto x = [&](const std::string& cmd) {
    return sh(net.a.exec(cmd));
  };
  x("ip route add " + std::string{remote} + "/32 via " + net.ip_b);
  // Four seconds' worth of closed connections to the same listener would
  // otherwise wait for ports.
  x("sysctl -qw net.ipv4.tcp_tw_reuse=1");
  std::string dst = std::string{"-p tcp -d "} + remote + " --dport 443";
  auto redirect = [&](bool on) {
    return x(std::string{"iptables -t nat "} + (on ? "-A" : "-D") + " OUTPUT "
             + dst + " -j REDIRECT --to-ports "
             + std::to_string(listener_port));
  };
  auto tproxy = [&](bool on) {
    std::string op = on ? "-A" : "-D";
    bool fine
        = x("iptables -t raw " + op + " OUTPUT " + dst + " -j NOTRACK") == 0
          && x("iptables -t raw " + op + " OUTPUT -p tcp -s " + remote
               + " --sport 443 -j NOTRACK")
                 == 0
          && x("iptables -t raw " + op
               + " PREROUTING -i lo -p tcp -m mark --mark 0x1 -j NOTRACK")
                 == 0
          && x("iptables -t mangle " + op + " OUTPUT " + dst
               + " -j MARK --set-mark 0x1")
                 == 0
          && x("iptables -t mangle " + op
               + " PREROUTING -i lo -p tcp -m mark --mark 0x1 -j TPROXY "
                 "--on-ip 127.0.0.1 --on-port "
               + std::to_string(listener_port))
                 == 0;
    std::string ip_op = on ? "add" : "del";
    fine = x("ip rule " + ip_op + " fwmark 0x1 lookup 100") == 0 && fine;
    fine = x("ip route " + ip_op + " local 0.0.0.0/0 dev lo table 100") == 0
           && fine;
    return fine ? 0 : 1;
  };
  std::printf("== a local connection handed to a local listener, %d rounds "
              "of %d sequential (per second; p50 in us)\n",
              rounds, n);
  std::vector<double> rate[2], p50[2], ratio;
  for (int i = 0; i < rounds; ++i) {
    double this_round[2] = {0, 0};
    // Odd rounds REDIRECT first, even rounds TPROXY first.
    for (int k = 0; k < 2; ++k) {
      bool way = (k == 0) == (i % 2 == 1); // true: TPROXY
      if ((way ? tproxy(true) : redirect(true)) != 0) {
        std::printf("the %s rules could not be added\n",
                    way ? "TPROXY" : "REDIRECT");
        return 1;
      }
      auto r = drover::test::inside(net.a, [&] { return run_round(way, n); });
      (void)(way ? tproxy(false) : redirect(false));
      if (!r.ok)
        return 1;
      rate[way].push_back(r.per_second);
      p50[way].push_back(r.p50_us);
      this_round[way] = r.per_second;
    }
    std::printf("  round %d: REDIRECT %.0f  TPROXY %.0f\n", i + 1,
                this_round[0], this_round[1]);
    ratio.push_back(this_round[1] / this_round[0]);
  }
  std::printf("REDIRECT (nat, tracked)           %6.0f/s   p50 %6.1f\n",
              median(rate[0]), median(p50[0]));
  std::printf("TPROXY (policy route, untracked) %6.0f/s   p50 %6.1f\n",
              median(rate[1]), median(p50[1]));
  std::printf("ratio: tproxy/redirect = %.2f (rounds %.2f-%.2f)\n",
              median(ratio), *std::min_element(ratio.begin(), ratio.end()),
              *std::max_element(ratio.begin(), ratio.end()));
  return 0;
}
