// drover-test-peer's target modes: programs that behave like the
// applications the capture must never let out direct (tests/e2e/leak_test).
//
//   burst IP PORT           at once on start: a TCP connect and a UDP
//                           datagram; waits up to 3 s for the connect,
//                           prints "burst connected|refused|timeout"
//   spawn N PROGRAM ARGS... starts N copies of PROGRAM at once, waits for
//                           them, prints "spawned N"
//   chatter IP PORT         keeps a TCP connection to a tcp-echo server
//                           and sends UDP (unconnected and connected) to a
//                           udp-echo server every 50 ms, reconnecting on
//                           errors; prints "tcp seen A:P", "udp seen A:P"
//                           and "udp-connected seen A:P" whenever the peer
//                           the server saw changes, "tcp lost WHY" when the
//                           connection ends; stops at EOF or "quit" on
//                           stdin
//   churn IP PORT SECONDS   for SECONDS: a new TCP connection to a
//                           tcp-echo server every 10 ms (banner, 512 bytes
//                           echoed, close) and a datagram on one UDP socket
//                           to a udp-echo server; prints "churn rounds N
//                           failed M" (a soak's load: flows come and go,
//                           one voice-like socket stays)
//   socket-mark             prints "mark tcp=N udp=N": the marks of a new
//                           TCP and a new UDP socket
//   hold-tcp IP PORT        connects, prints "connected", then waits for
//                           the connection's end: "ended WHY"
//   whoami                  prints "uid=U gid=G home=H fds=0,1,2": who it
//                           runs as and which descriptors it inherited
//   udp6-send IP6 PORT      one datagram from an IPv6 UDP socket: prints
//                           "sent" or "send: ERROR"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

sockaddr_in endpoint(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

const sockaddr* as_sockaddr(const sockaddr_in& a) {
  return reinterpret_cast<const sockaddr*>(&a);
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int burst(const char* ip, int port) {
  auto a = endpoint(ip, port);
  int tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  connect(tcp, as_sockaddr(a), sizeof a);
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  const char hello[] = "burst";
  sendto(udp, hello, sizeof hello - 1, 0, as_sockaddr(a), sizeof a);
  pollfd p{tcp, POLLOUT, 0};
  int err = ETIMEDOUT;
  if (poll(&p, 1, 3000) == 1) {
    socklen_t len = sizeof err;
    getsockopt(tcp, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  say(std::string{"burst "}
      + (err == 0              ? "connected"
         : err == ECONNREFUSED ? "refused"
                               : "timeout"));
  close(tcp);
  close(udp);
  return 0;
}

int spawn(int n, char** argv) {
  std::vector<pid_t> children;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execv(argv[0], argv);
      _exit(127);
    }
    if (pid > 0)
      children.push_back(pid);
  }
  for (auto pid : children)
    waitpid(pid, nullptr, 0);
  say("spawned " + std::to_string(children.size()));
  return 0;
}

// The "peer A:P" a server put first in its reply, or "".
std::string peer_in(const std::string& reply) {
  if (reply.rfind("peer ", 0) != 0)
    return {};
  auto end = reply.find_first_of(" \n", 5);
  return reply.substr(5, end == std::string::npos ? end : end - 5);
}

struct chatter_state {
  sockaddr_in tcp_at, udp_at;
  int tcp = -1;
  bool tcp_ready = false; // connected
  std::string tcp_banner;
  std::string seen[3]; // tcp, udp, udp-connected
  uint64_t replies[3] = {};
  int udp = -1;
  int udp_connected = -1;
};

// Said when the peer changes, and again about once a second (every 20th
// reply), so a test can wait for fresh evidence.
void note_seen(chatter_state& s, int which, const std::string& peer) {
  static const char* names[] = {"tcp", "udp", "udp-connected"};
  if (peer.empty())
    return;
  if (peer == s.seen[which] && ++s.replies[which] % 20 != 0)
    return;
  s.seen[which] = peer;
  say(std::string{names[which]} + " seen " + peer);
}

void tcp_lost(chatter_state& s, const std::string& why) {
  say("tcp lost " + why);
  s.seen[0].clear();
  close(s.tcp);
  s.tcp = -1;
  s.tcp_ready = false;
  s.tcp_banner.clear();
}

// One TCP exchange on a new connection: false on any failure.
bool churn_tcp(const sockaddr_in& a) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = connect(fd, as_sockaddr(a), sizeof a) == 0;
  char buf[1024];
  std::string banner;
  while (ok && banner.find('\n') == std::string::npos) {
    auto n = recv(fd, buf, sizeof buf, 0);
    ok = n > 0;
    if (ok)
      banner.append(buf, static_cast<size_t>(n));
  }
  std::string message(512, 'c');
  ok = ok && send(fd, message.data(), message.size(), MSG_NOSIGNAL) == 512;
  size_t echoed = banner.size() - banner.find('\n') - 1;
  while (ok && echoed < message.size()) {
    auto n = recv(fd, buf, sizeof buf, 0);
    ok = n > 0;
    echoed += ok ? static_cast<size_t>(n) : 0;
  }
  close(fd);
  return ok;
}

int churn(const char* ip, int port, int seconds) {
  auto a = endpoint(ip, port);
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{2, 0};
  setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds{seconds};
  long rounds = 0, failed = 0;
  char buf[2048];
  while (std::chrono::steady_clock::now() < end) {
    bool ok = churn_tcp(a);
    const char voice[] = "voice";
    ok = sendto(udp, voice, sizeof voice - 1, 0, as_sockaddr(a), sizeof a) > 0
         && recv(udp, buf, sizeof buf, 0) > 0 && ok;
    ++rounds;
    failed += ok ? 0 : 1;
    usleep(10000);
  }
  say("churn rounds " + std::to_string(rounds) + " failed "
      + std::to_string(failed));
  close(udp);
  return failed == 0 ? 0 : 1;
}

int chatter(const char* ip, int port) {
  chatter_state s;
  s.tcp_at = endpoint(ip, port);
  s.udp_at = endpoint(ip, port);
  s.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  s.udp_connected = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  connect(s.udp_connected, as_sockaddr(s.udp_at), sizeof s.udp_at);
  fcntl(0, F_SETFL, O_NONBLOCK);
  auto next_send = std::chrono::steady_clock::now();
  uint64_t round = 0;
  std::string input;
  for (;;) {
    if (s.tcp < 0) {
      s.tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(s.tcp, as_sockaddr(s.tcp_at), sizeof s.tcp_at);
    }
    pollfd fds[4] = {{0, POLLIN, 0},
                     {s.tcp, static_cast<short>(POLLIN | POLLOUT), 0},
                     {s.udp, POLLIN, 0},
                     {s.udp_connected, POLLIN, 0}};
    if (s.tcp_ready)
      fds[1].events = POLLIN;
    poll(fds, 4, 10);
    if (fds[0].revents != 0) {
      char buf[256];
      auto n = read(0, buf, sizeof buf);
      if (n <= 0)
        break;
      input.append(buf, static_cast<size_t>(n));
      if (input.find("quit") != std::string::npos)
        break;
    }
    if (fds[1].revents & (POLLERR | POLLHUP)) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s.tcp, SOL_SOCKET, SO_ERROR, &err, &len);
      tcp_lost(s, err != 0 ? std::strerror(err) : "hang-up");
      usleep(100000);
      continue;
    }
    if (!s.tcp_ready && (fds[1].revents & POLLOUT))
      s.tcp_ready = true;
    if (fds[1].revents & POLLIN) {
      char buf[4096];
      auto n = recv(s.tcp, buf, sizeof buf, 0);
      if (n <= 0) {
        tcp_lost(s, n == 0 ? "eof" : std::strerror(errno));
        usleep(100000);
        continue;
      }
      if (s.tcp_banner.find('\n') == std::string::npos) {
        s.tcp_banner.append(buf, static_cast<size_t>(n));
        if (s.tcp_banner.find('\n') != std::string::npos)
          note_seen(s, 0, peer_in(s.tcp_banner));
      } else {
        note_seen(s, 0, peer_in(s.tcp_banner)); // an echo: still there
      }
    }
    for (int i : {2, 3}) {
      if ((fds[i].revents & POLLIN) == 0)
        continue;
      char buf[2048];
      auto n = recv(fds[i].fd, buf, sizeof buf, 0);
      if (n > 0)
        note_seen(s, i - 1, peer_in(std::string(buf, static_cast<size_t>(n))));
    }
    auto now = std::chrono::steady_clock::now();
    if (now < next_send)
      continue;
    next_send = now + std::chrono::milliseconds{50};
    auto line = "chatter " + std::to_string(++round) + "\n";
    if (s.tcp_ready && send(s.tcp, line.data(), line.size(), MSG_NOSIGNAL) < 0)
      tcp_lost(s, std::strerror(errno));
    sendto(s.udp, line.data(), line.size(), 0, as_sockaddr(s.udp_at),
           sizeof s.udp_at);
    send(s.udp_connected, line.data(), line.size(), 0);
  }
  say("chatter done after " + std::to_string(round) + " rounds");
  return 0;
}

int socket_mark() {
  auto mark_of = [](int type) {
    int fd = socket(AF_INET, type, 0);
    uint32_t mark = 0;
    socklen_t len = sizeof mark;
    getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len);
    close(fd);
    return mark;
  };
  say("mark tcp=" + std::to_string(mark_of(SOCK_STREAM))
      + " udp=" + std::to_string(mark_of(SOCK_DGRAM)));
  return 0;
}

int whoami() {
  std::string fds;
  DIR* d = opendir("/proc/self/fd");
  int own = d != nullptr ? dirfd(d) : -1;
  std::vector<int> open;
  while (d != nullptr)
    if (auto* e = readdir(d)) {
      if (e->d_name[0] != '.' && std::atoi(e->d_name) != own)
        open.push_back(std::atoi(e->d_name));
    } else {
      break;
    }
  if (d != nullptr)
    closedir(d);
  std::sort(open.begin(), open.end());
  for (int fd : open)
    fds += (fds.empty() ? "" : ",") + std::to_string(fd);
  const char* home = std::getenv("HOME");
  say("uid=" + std::to_string(getuid()) + " gid=" + std::to_string(getgid())
      + " home=" + (home != nullptr ? home : "") + " fds=" + fds);
  return 0;
}

int hold_tcp(const char* ip, int port) {
  auto a = endpoint(ip, port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, as_sockaddr(a), sizeof a) != 0) {
    say(std::string{"failed "} + std::strerror(errno));
    return 1;
  }
  say("connected");
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 60000) != 1) {
      say("ended timeout");
      return 1;
    }
    auto n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) {
      say("ended eof");
      return 0;
    }
    if (n < 0) {
      say(std::string{"ended "} + std::strerror(errno));
      return 0;
    }
  }
}

int udp6_send(const char* ip, int port) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  bool sent
      = sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 1;
  say(sent ? std::string{"sent"}
           : std::string{"send: "} + std::strerror(errno));
  close(fd);
  return 0;
}

} // namespace

// The target modes, or -1 when `mode` is not one of them.
int target_mode(const std::string& mode, int argc, char** argv) {
  if (mode == "burst" && argc >= 4)
    return burst(argv[2], std::atoi(argv[3]));
  if (mode == "spawn" && argc >= 4)
    return spawn(std::atoi(argv[2]), argv + 3);
  if (mode == "chatter" && argc >= 4)
    return chatter(argv[2], std::atoi(argv[3]));
  if (mode == "churn" && argc >= 5)
    return churn(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "socket-mark")
    return socket_mark();
  if (mode == "whoami")
    return whoami();
  if (mode == "hold-tcp" && argc >= 4)
    return hold_tcp(argv[2], std::atoi(argv[3]));
  if (mode == "udp6-send" && argc >= 4)
    return udp6_send(argv[2], std::atoi(argv[3]));
  return -1;
}
