// A Windows program that talks to tests/support/echo_servers.py the way an
// application does, for drover.exe's end-to-end tests on emulated
// WinDivert (tests/windows/emulated_test.sh). Copied under a target's name
// it is captured; under another it is not. With --socks HOST:PORT it
// speaks SOCKS5 itself (the explicit client a benchmark compares with).
//
//   tcp HOST PORT TEXT          one echo; prints the peer the application
//                               sees and the server's answer (who it saw)
//   hold HOST PORT SECONDS      one connection, an echo every 100 ms;
//                               prints how many were answered and whether
//                               the connection ended
//   udp HOST PORT COUNT MODE    one datagram and its answer, then COUNT
//                               at once (MODE: bound, each with sendto;
//                               connected), then their answers; prints how
//                               many came back, from where, and who the
//                               server saw
//   bulk HOST PORT MIB          uploads MIB MiB; prints MiB/s
//   rtt HOST PORT COUNT         UDP ping-pong; prints p50/p99 in µs
//   tcp6 HOST6 PORT SECONDS     one IPv6 connection attempt, given up
//                               after SECONDS; prints how it ended
//                               (connected, refused, timeout or the error)
//                               and after how many ms; exit code 0 when
//                               it connected
//   broadcast HOST PORT SECONDS a datagram to broadcast address HOST
//                               (SO_BROADCAST) every 250 ms until one is
//                               answered or SECONDS pass, as a game's LAN
//                               discovery; prints who answered and whom
//                               it saw (echo_servers.py's answer), or
//                               result=no-answer
//   udp6 HOST6 PORT SECONDS     one IPv6 datagram on a connected socket
//                               and its answer, waited for SECONDS;
//                               prints how it ended (answered, refused,
//                               timeout or the error) and after how many
//                               ms; exit code 0 when it was answered
// Exit code 0 when every step was answered, 1 otherwise.

#include <winsock2.h>
// After winsock2.h.
#include <ws2tcpip.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

sockaddr_in socks{}; // sin_port 0: no SOCKS5

sockaddr_in address_of(const char* host, const char* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<u_short>(std::atoi(port)));
  inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

std::string text_of(const sockaddr_in& a) {
  char ip[32];
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string{ip} + ":" + std::to_string(ntohs(a.sin_port));
}

bool send_all(SOCKET s, const char* p, size_t n) {
  while (n > 0) {
    int k = send(s, p, static_cast<int>(std::min<size_t>(n, 1 << 20)), 0);
    if (k <= 0)
      return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool read_exactly(SOCKET s, char* p, size_t n) {
  while (n > 0) {
    int k = recv(s, p, static_cast<int>(n), 0);
    if (k <= 0)
      return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

std::string read_line(SOCKET s) {
  std::string line;
  char c;
  while (recv(s, &c, 1, 0) == 1 && c != '\n')
    line += c;
  return line;
}

// SOCKS5 without authentication: CONNECT (TCP) or UDP ASSOCIATE; the
// relay's address for the latter.
bool socks_request(SOCKET s, uint8_t command, const sockaddr_in& to,
                   sockaddr_in* bound) {
  char hello[3] = {5, 1, 0}, chosen[2];
  if (!send_all(s, hello, 3) || !read_exactly(s, chosen, 2) || chosen[1] != 0)
    return false;
  char request[10] = {5, static_cast<char>(command), 0, 1};
  std::memcpy(request + 4, &to.sin_addr, 4);
  std::memcpy(request + 8, &to.sin_port, 2);
  char reply[10];
  if (!send_all(s, request, 10) || !read_exactly(s, reply, 10) || reply[1] != 0)
    return false;
  if (bound != nullptr) {
    bound->sin_family = AF_INET;
    std::memcpy(&bound->sin_addr, reply + 4, 4);
    std::memcpy(&bound->sin_port, reply + 8, 2);
  }
  return true;
}

SOCKET connect_to(const sockaddr_in& to) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  const sockaddr_in& first = socks.sin_port != 0 ? socks : to;
  if (connect(s, reinterpret_cast<const sockaddr*>(&first), sizeof first)
      != 0) {
    std::printf("connect %s failed: %d\n", text_of(first).c_str(),
                WSAGetLastError());
    closesocket(s);
    return INVALID_SOCKET;
  }
  if (socks.sin_port != 0 && !socks_request(s, 1, to, nullptr)) {
    std::printf("SOCKS5 CONNECT refused\n");
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

int tcp_echo(const sockaddr_in& to, const char* text) {
  SOCKET s = connect_to(to);
  if (s == INVALID_SOCKET)
    return 1;
  sockaddr_in peer{};
  int len = sizeof peer;
  getpeername(s, reinterpret_cast<sockaddr*>(&peer), &len);
  std::string request = std::string{"echo "} + text + "\n";
  send_all(s, request.data(), request.size());
  auto reply = read_line(s);
  std::printf("tcp peer=%s reply=%s\n", text_of(peer).c_str(), reply.c_str());
  closesocket(s);
  return reply.empty() ? 1 : 0;
}

int hold(const sockaddr_in& to, int seconds) {
  SOCKET s = connect_to(to);
  if (s == INVALID_SOCKET)
    return 1;
  DWORD timeout = 2000;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<char*>(&timeout),
             sizeof timeout);
  int answered = 0, asked = 0;
  std::set<std::string> seen;
  bool ended = false;
  auto until = clock_type::now() + std::chrono::seconds{seconds};
  while (clock_type::now() < until) {
    asked++;
    std::string request = "echo " + std::to_string(asked) + "\n";
    if (!send_all(s, request.data(), request.size())) {
      ended = true;
      break;
    }
    auto reply = read_line(s);
    if (reply.empty()) {
      ended = true;
      break;
    }
    answered++;
    seen.insert(reply.substr(0, reply.find(' ')));
    Sleep(100);
  }
  std::string who;
  for (auto& w : seen)
    who += w + ",";
  std::printf("hold answered=%d asked=%d ended=%s seen=%s\n", answered, asked,
              ended ? "yes" : "no", who.c_str());
  closesocket(s);
  return answered > 0 ? 0 : 1;
}

// A SOCKS5 UDP association: its control connection and the relay's
// address; the socket to send from.
SOCKET socks_udp(sockaddr_in& relay, SOCKET& control) {
  control = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (connect(control, reinterpret_cast<const sockaddr*>(&socks), sizeof socks)
          != 0
      || !socks_request(control, 3, sockaddr_in{AF_INET, 0, {}, {}}, &relay))
    return INVALID_SOCKET;
  if (relay.sin_addr.s_addr == 0)
    relay.sin_addr = socks.sin_addr;
  return socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
}

int udp_burst(const sockaddr_in& to, int count, bool connected) {
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  int buffer = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<char*>(&buffer),
             sizeof buffer);
  if (connected
      && connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    std::printf("udp connect failed: %d\n", WSAGetLastError());
    return 1;
  }
  DWORD timeout = 3000;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<char*>(&timeout),
             sizeof timeout);
  // One exchange first: the burst then meets a flow in progress (a call
  // under way), not one still being set up.
  char buf[2048];
  sockaddr_in peer{};
  int len = sizeof peer;
  int warm = connected
                 ? send(s, "warm", 4, 0)
                 : sendto(s, "warm", 4, 0,
                          reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (warm <= 0
      || recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer),
                  &len)
             <= 0) {
    std::printf("udp: no answer to the first datagram (%d)\n",
                WSAGetLastError());
    return 1;
  }
  for (int i = 0; i < count; ++i) {
    std::string payload = "n=" + std::to_string(i);
    int n = connected
                ? send(s, payload.data(), static_cast<int>(payload.size()), 0)
                : sendto(s, payload.data(), static_cast<int>(payload.size()), 0,
                         reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (n <= 0)
      std::printf("udp send %d failed: %d\n", i, WSAGetLastError());
  }
  std::set<std::string> from, seen, payloads;
  while (static_cast<int>(payloads.size()) < count) {
    len = sizeof peer;
    int n = recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer),
                     &len);
    if (n <= 0)
      break;
    std::string reply{buf, static_cast<size_t>(n)};
    from.insert(text_of(peer));
    seen.insert(reply.substr(0, reply.find(' ')));
    payloads.insert(reply.substr(reply.find(' ') + 1));
  }
  auto join = [](const std::set<std::string>& words) {
    std::string out;
    for (auto& w : words)
      out += w + ",";
    return out;
  };
  std::printf("udp replies=%zu of %d from=%s seen=%s\n", payloads.size(), count,
              join(from).c_str(), join(seen).c_str());
  closesocket(s);
  return static_cast<int>(payloads.size()) == count ? 0 : 1;
}

int bulk(const sockaddr_in& to, int mib) {
  SOCKET s = connect_to(to);
  if (s == INVALID_SOCKET)
    return 1;
  size_t total = static_cast<size_t>(mib) << 20;
  std::string request = "sink " + std::to_string(total) + "\n";
  std::vector<char> block(1 << 20, 'x');
  auto start = clock_type::now();
  bool ok = send_all(s, request.data(), request.size());
  for (size_t left = total; ok && left > 0;
       left -= std::min(left, block.size()))
    ok = send_all(s, block.data(), std::min(left, block.size()));
  auto reply = read_line(s);
  double seconds
      = std::chrono::duration<double>(clock_type::now() - start).count();
  std::printf("bulk %d MiB in %.3f s: %.1f MiB/s (%s)\n", mib, seconds,
              mib / seconds, reply.c_str());
  closesocket(s);
  return ok && !reply.empty() ? 0 : 1;
}

int rtt(const sockaddr_in& to, int count) {
  SOCKET control = INVALID_SOCKET;
  sockaddr_in relay{};
  SOCKET s = socks.sin_port != 0 ? socks_udp(relay, control)
                                 : socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET) {
    std::printf("no UDP path\n");
    return 1;
  }
  const sockaddr_in& first = socks.sin_port != 0 ? relay : to;
  DWORD timeout = 1000;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<char*>(&timeout),
             sizeof timeout);
  std::vector<double> us;
  char out[128] = {}, in[256];
  size_t header = 0;
  if (socks.sin_port != 0) { // RSV RSV FRAG ATYP ADDR PORT
    out[3] = 1;
    std::memcpy(out + 4, &to.sin_addr, 4);
    std::memcpy(out + 8, &to.sin_port, 2);
    header = 10;
  }
  for (int i = 0; i < count; ++i) {
    std::memset(out + header, 'p', 100);
    auto start = clock_type::now();
    sendto(s, out, static_cast<int>(header + 100), 0,
           reinterpret_cast<const sockaddr*>(&first), sizeof first);
    if (recv(s, in, sizeof in, 0) <= 0)
      continue;
    us.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - start)
            .count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us.empty() ? 0.0
                      : us[static_cast<size_t>(
                          q * static_cast<double>(us.size() - 1))];
  };
  std::printf("rtt answered=%zu of %d p50=%.1f p99=%.1f us\n", us.size(), count,
              at(0.5), at(0.99));
  if (control != INVALID_SOCKET)
    closesocket(control);
  return us.size() == static_cast<size_t>(count) ? 0 : 1;
}

// How an IPv6 attempt (`what`) ended, and after how many ms; exit code 0
// when it ended as `success`.
int report_attempt(const char* what, const std::string& result,
                   clock_type::time_point start, const char* success) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                clock_type::now() - start)
                .count();
  std::printf("%s result=%s ms=%lld\n", what, result.c_str(),
              static_cast<long long>(ms));
  return result == success ? 0 : 1;
}

// What an application's Happy Eyeballs meets: the IPv6 attempt's end.
int tcp6_attempt(const sockaddr_in6& to, int seconds) {
  SOCKET s = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
  u_long nonblocking = 1;
  ioctlsocket(s, static_cast<long>(FIONBIO), &nonblocking);
  auto start = clock_type::now();
  std::string result;
  if (connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
    result = "connected";
  } else if (WSAGetLastError() != WSAEWOULDBLOCK) {
    result = "error-" + std::to_string(WSAGetLastError());
  } else {
    fd_set done, failed;
    FD_ZERO(&done);
    FD_ZERO(&failed);
    FD_SET(s, &done);
    FD_SET(s, &failed);
    timeval limit{seconds, 0};
    int n = select(0, nullptr, &done, &failed, &limit);
    int error = 0;
    int len = sizeof error;
    getsockopt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &len);
    if (n == 0)
      result = "timeout";
    else if (error == WSAECONNREFUSED)
      result = "refused";
    else if (error != 0)
      result = "error-" + std::to_string(error);
    else
      result = "connected";
  }
  closesocket(s);
  return report_attempt("tcp6", result, start, "connected");
}

// What an application's IPv6 UDP meets (QUIC, a voice client trying both
// families): an answer, or its socket's error.
int udp6_attempt(const sockaddr_in6& to, int seconds) {
  SOCKET s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  auto start = clock_type::now();
  std::string result;
  if (connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0
      || send(s, "ping6", 5, 0) != 5) {
    result = "error-" + std::to_string(WSAGetLastError());
  } else {
    // A blocking receive, as many programs make: wine's select() does not
    // report a UDP socket's pending error as readable (Windows does).
    DWORD limit = static_cast<DWORD>(seconds) * 1000;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<char*>(&limit),
               sizeof limit);
    char answer[512];
    if (recv(s, answer, sizeof answer, 0) > 0) {
      result = "answered";
    } else {
      // A port unreachable: Windows says WSAECONNRESET; wine may say
      // WSAECONNREFUSED.
      int error = WSAGetLastError();
      result = error == WSAECONNRESET || error == WSAECONNREFUSED ? "refused"
               : error == WSAETIMEDOUT                            ? "timeout"
                                       : "error-" + std::to_string(error);
    }
  }
  closesocket(s);
  return report_attempt("udp6", result, start, "answered");
}

} // namespace

int broadcast_until_answered(const sockaddr_in& to, int seconds) {
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  BOOL yes = TRUE;
  setsockopt(s, SOL_SOCKET, SO_BROADCAST, reinterpret_cast<const char*>(&yes),
             sizeof yes);
  DWORD wait_ms = 250;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO,
             reinterpret_cast<const char*>(&wait_ms), sizeof wait_ms);
  auto until = clock_type::now() + std::chrono::seconds{seconds};
  int sent = 0;
  while (clock_type::now() < until) {
    const char hello[] = "who is there";
    if (sendto(s, hello, sizeof hello - 1, 0,
               reinterpret_cast<const sockaddr*>(&to), sizeof to)
        > 0)
      ++sent;
    char reply[512];
    sockaddr_in from{};
    int len = sizeof from;
    int n = recvfrom(s, reply, sizeof reply - 1, 0,
                     reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0)
      continue; // nothing within 250 ms (or an ICMP error): again
    reply[n] = 0;
    std::string said{reply};
    std::printf("broadcast answered after %d from=%s seen=%s\n", sent,
                text_of(from).c_str(), said.substr(0, said.find(' ')).c_str());
    closesocket(s);
    return 0;
  }
  std::printf("broadcast result=no-answer sent=%d\n", sent);
  closesocket(s);
  return 1;
}

int main(int argc, char** argv) {
  WSADATA wsa;
  WSAStartup(MAKEWORD(2, 2), &wsa);
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  int first = 1;
  if (argc > 3 && std::strcmp(argv[1], "--socks") == 0) {
    std::string proxy = argv[2];
    auto colon = proxy.find(':');
    socks = address_of(proxy.substr(0, colon).c_str(),
                       proxy.substr(colon + 1).c_str());
    first = 3;
  }
  if (argc - first < 4) {
    std::fprintf(stderr,
                 "usage: traffic_client [--socks HOST:PORT] "
                 "tcp|hold|udp|bulk|rtt|broadcast|tcp6|udp6 HOST PORT ARG "
                 "[MODE]\n");
    return 2;
  }
  std::string what = argv[first];
  if (what == "tcp6" || what == "udp6") {
    sockaddr_in6 to6{};
    to6.sin6_family = AF_INET6;
    to6.sin6_port = htons(static_cast<u_short>(std::atoi(argv[first + 2])));
    if (inet_pton(AF_INET6, argv[first + 1], &to6.sin6_addr) != 1) {
      std::printf("%s result=bad-address\n", what.c_str());
      return 2;
    }
    int seconds = std::atoi(argv[first + 3]);
    return what == "tcp6" ? tcp6_attempt(to6, seconds)
                          : udp6_attempt(to6, seconds);
  }
  auto to = address_of(argv[first + 1], argv[first + 2]);
  const char* arg = argv[first + 3];
  if (what == "tcp")
    return tcp_echo(to, arg);
  if (what == "hold")
    return hold(to, std::atoi(arg));
  if (what == "udp")
    return udp_burst(to, std::atoi(arg),
                     argc - first > 4
                         && std::strcmp(argv[first + 4], "connected") == 0);
  if (what == "bulk")
    return bulk(to, std::atoi(arg));
  if (what == "rtt")
    return rtt(to, std::atoi(arg));
  if (what == "broadcast")
    return broadcast_until_answered(to, std::atoi(arg));
  std::fprintf(stderr, "traffic_client: unknown command %s\n", what.c_str());
  return 2;
}
