// Whether the kernel can carry an application's upload to the relay itself,
// without the loopback TCP hop (a sockmap: an sk_msg program redirecting
// what the application's socket sends), measured (Linux, root) over the
// loopback of a namespace of the bench's own:
//
//   build/bench/bench_sockmap_redirect [SECONDS=3] [ROUNDS=3]
//
// The application sends 128 KiB at a time, non-blocking, and waits in
// poll() when a send would block, as an event-driven program does.
// 1. Redirected to the egress of the relay's connection to the proxy,
//    whose reader takes 16 KiB every 100 ms (a slow proxy): how often
//    send() failed with EAGAIN while poll() said at once that the socket
//    was writable (a busy loop), and whether every byte arrived.
// 2. Redirected into the relay socket's receive queue, the relay taking
//    16 KiB every 100 ms: how far the application gets ahead of the relay
//    (stopped at 256 MiB), against what a TCP socket would hold.
// 3. Nothing slow: Drover's relay (splice() from the application's
//    loopback connection to the proxy's) against a relay reading the
//    redirected bytes (recv() and send()); MiB/s each (from the first send
//    until the proxy has every byte), ROUNDS rounds taking turns, and the
//    ratio.
// Not part of Drover: the measurements behind docs/benchmarks.md's
// "A kernel join of the upload, measured".

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/netns.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t send_size = 128 * 1024;
constexpr size_t slow_bite = 16 * 1024; // every 100 ms
constexpr uint64_t ahead_limit = 256u << 20;

double mib(uint64_t bytes) {
  return static_cast<double>(bytes) / 1048576.0;
}

// Thrown, so the namespace is taken down on the way out.
[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string{what} + ": " + std::strerror(errno));
}

double seconds_since(bench_clock::time_point t) {
  return std::chrono::duration<double>(bench_clock::now() - t).count();
}

// A listener on 127.0.0.1 and one connection to it: {client, accepted}.
struct connection {
  int client = -1;
  int accepted = -1;
};

connection connect_pair() {
  connection c;
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      || ::listen(l, 1) != 0
      || ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    fail("cannot listen on loopback");
  c.client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(c.client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    fail("cannot connect on loopback");
  c.accepted = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(l);
  return c;
}

uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// The sk_msg program on a sockhash holding the application's socket (key
// 0) and where its sends go (key 1).
class kernel_join {
public:
  kernel_join(int app, int to, uint32_t flags)
      : obj_(bpf_object__open_file(DROVER_SOCKMAP_BPF, nullptr)) {
    if (!obj_ || bpf_object__load(obj_.get()) != 0)
      fail("cannot load " DROVER_SOCKMAP_BPF);
    int prog = bpf_program__fd(
        bpf_object__find_program_by_name(obj_.get(), "redirect"));
    int sockets = bpf_object__find_map_fd_by_name(obj_.get(), "sockets");
    int settings = bpf_object__find_map_fd_by_name(obj_.get(), "settings");
    if (bpf_prog_attach(prog, sockets, BPF_SK_MSG_VERDICT, 0) != 0)
      fail("cannot attach the sk_msg program");
    uint32_t port_at = 0, flags_at = 1, port = local_port(app);
    uint32_t key_app = 0, key_to = 1;
    uint64_t app_fd = static_cast<uint64_t>(app);
    uint64_t to_fd = static_cast<uint64_t>(to);
    if (bpf_map_update_elem(settings, &port_at, &port, BPF_ANY) != 0
        || bpf_map_update_elem(settings, &flags_at, &flags, BPF_ANY) != 0
        || bpf_map_update_elem(sockets, &key_app, &app_fd, BPF_ANY) != 0
        || bpf_map_update_elem(sockets, &key_to, &to_fd, BPF_ANY) != 0)
      fail("cannot fill the maps");
  }

private:
  // Closing it detaches the program and frees the maps.
  struct closer {
    void operator()(bpf_object* o) const { bpf_object__close(o); }
  };
  std::unique_ptr<bpf_object, closer> obj_;
};

// Reads `fd` until told to stop (and then what is left), all at once or
// `slow_bite` every 100 ms.
class reader {
public:
  reader(int fd, bool slow) : fd_(fd), slow_(slow), t_([this] { run(); }) {}
  ~reader() { stop(); }
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  void stop() {
    stop_ = true;
    if (t_.joinable())
      t_.join();
  }
  uint64_t got() const { return got_; }

private:
  void run() {
    std::vector<char> buf(1 << 20);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      auto n = ::recv(fd_, buf.data(), slow_ ? slow_bite : buf.size(),
                      MSG_DONTWAIT);
      if (n > 0)
        got_ += static_cast<uint64_t>(n);
      if (slow_)
        std::this_thread::sleep_for(100ms);
    }
    for (;;) {
      auto n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0)
        break;
      got_ += static_cast<uint64_t>(n);
    }
  }
  int fd_;
  bool slow_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> got_{0};
  std::thread t_;
};

// Moves what arrives on `from` to `to`: by splice() through a pipe, or by
// recv() and send(); all at once or `slow_bite` every 100 ms.
class relay {
public:
  relay(int from, int to, bool by_splice, bool slow)
      : from_(from), to_(to), splice_(by_splice), slow_(slow),
        t_([this] { run(); }) {}
  ~relay() {
    stop_ = true;
    t_.join();
  }
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;
  uint64_t moved() const { return moved_; }

private:
  void run() {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
      return;
    ::fcntl(pipe_fds[1], F_SETPIPE_SZ, 1 << 20);
    std::vector<char> buf(1 << 20);
    size_t bite = slow_ ? slow_bite : buf.size();
    while (!stop_) {
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      if (slow_)
        std::this_thread::sleep_for(100ms);
      if (splice_) {
        auto n = ::splice(from_, nullptr, pipe_fds[1], nullptr, bite,
                          SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        while (n > 0) {
          auto m = ::splice(pipe_fds[0], nullptr, to_, nullptr,
                            static_cast<size_t>(n), SPLICE_F_MOVE);
          if (m <= 0)
            break;
          n -= m;
          moved_ += static_cast<uint64_t>(m);
        }
      } else {
        auto n = ::recv(from_, buf.data(), bite, MSG_DONTWAIT);
        for (ssize_t off = 0; off < n;) {
          auto m = ::send(to_, buf.data() + off, static_cast<size_t>(n - off),
                          MSG_NOSIGNAL);
          if (m <= 0)
            break;
          off += m;
          moved_ += static_cast<uint64_t>(m);
        }
      }
    }
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  }
  int from_, to_;
  bool splice_, slow_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> moved_{0};
  std::thread t_;
};

struct sent_result {
  uint64_t bytes = 0;
  uint64_t would_block = 0;      // send() failed with EAGAIN
  uint64_t writable_at_once = 0; // ... and poll() came back within 0.5 ms
  double seconds = 0;
};

// The application: sends for `seconds`, or until `ahead()` says it is
// `ahead_limit` ahead of whoever reads; with `wait_when_ahead`, it waits
// then instead (what the kernel does not make it do, so that the machine's
// TCP memory is not used up: the relay's rate is what is measured).
template<class Ahead>
sent_result send_for(int fd, double seconds, Ahead&& ahead,
                     bool wait_when_ahead = false) {
  sent_result r;
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  std::vector<char> buf(send_size, 'x');
  auto start = bench_clock::now();
  while (seconds_since(start) < seconds) {
    if (ahead(r.bytes) >= ahead_limit) {
      if (!wait_when_ahead)
        break;
      std::this_thread::sleep_for(100us);
      continue;
    }
    auto n = ::send(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      r.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (errno != EAGAIN) {
      std::printf("  the application's send failed: %s\n",
                  std::strerror(errno));
      break;
    }
    r.would_block++;
    pollfd p{fd, POLLOUT, 0};
    auto before = bench_clock::now();
    ::poll(&p, 1, 100);
    if (seconds_since(before) < 0.0005)
      r.writable_at_once++;
  }
  r.seconds = seconds_since(start);
  return r;
}

void egress_to_a_slow_proxy(double seconds) {
  auto app = connect_pair();   // the application's connection to the relay
  auto proxy = connect_pair(); // the relay's to the proxy
  kernel_join join{app.client, proxy.client, 0};
  reader slow_proxy{proxy.accepted, true};
  auto r = send_for(app.client, seconds, [](uint64_t) { return uint64_t{0}; });
  std::this_thread::sleep_for(500ms);
  slow_proxy.stop();
  std::printf("1. egress, slow proxy: sent %.1f MiB in %.1f s; send() would "
              "block %llu times, and poll() said writable at once %llu of "
              "them (%.0f a second); the proxy got %.1f MiB (%s)\n",
              mib(r.bytes), r.seconds,
              static_cast<unsigned long long>(r.would_block),
              static_cast<unsigned long long>(r.writable_at_once),
              static_cast<double>(r.writable_at_once) / r.seconds,
              mib(slow_proxy.got()),
              slow_proxy.got() == r.bytes ? "every byte" : "BYTES LOST");
  for (int fd : {app.client, app.accepted, proxy.client, proxy.accepted})
    ::close(fd);
}

void ingress_to_a_slow_relay(double seconds) {
  auto app = connect_pair();
  auto proxy = connect_pair();
  // What a TCP socket's receive buffer may grow to (tcp_rmem's maximum).
  unsigned long rmem[3] = {0, 0, 0};
  if (auto* f = std::fopen("/proc/sys/net/ipv4/tcp_rmem", "r")) {
    if (std::fscanf(f, "%lu %lu %lu", &rmem[0], &rmem[1], &rmem[2]) != 3)
      rmem[2] = 0;
    std::fclose(f);
  }
  kernel_join join{app.client, app.accepted, BPF_F_INGRESS};
  reader fast_proxy{proxy.accepted, false};
  sent_result r;
  {
    relay slow{app.accepted, proxy.client, false, true};
    r = send_for(app.client, seconds,
                 [&](uint64_t sent) { return sent - slow.moved(); });
    std::printf("2. ingress, slow relay: the application sent %.1f MiB in "
                "%.2f s while the relay took %.2f MiB: the kernel held "
                "%.1f MiB for it (a TCP socket's receive buffer grows to "
                "%.1f MiB at most)\n",
                mib(r.bytes), r.seconds, mib(slow.moved()),
                mib(r.bytes - slow.moved()), mib(rmem[2]));
  }
  for (int fd : {app.client, app.accepted, proxy.client, proxy.accepted})
    ::close(fd);
}

// MiB/s from the first send until the proxy has every byte (the redirect
// lets the application run ahead of the relay: what it has sent is not
// yet delivered).
double throughput(bool by_ingress, double seconds) {
  auto app = connect_pair();
  auto proxy = connect_pair();
  std::unique_ptr<kernel_join> join;
  if (by_ingress)
    join = std::make_unique<kernel_join>(app.client, app.accepted,
                                         BPF_F_INGRESS);
  reader fast_proxy{proxy.accepted, false};
  sent_result r;
  double delivered_after = 0;
  {
    relay fast{app.accepted, proxy.client, !by_ingress, false};
    auto start = bench_clock::now();
    r = send_for(
        app.client, seconds,
        [&](uint64_t sent) { return sent - fast_proxy.got(); }, true);
    while (fast_proxy.got() < r.bytes && seconds_since(start) < 4 * seconds)
      std::this_thread::sleep_for(1ms);
    delivered_after = seconds_since(start);
  }
  fast_proxy.stop();
  if (fast_proxy.got() != r.bytes)
    std::printf("  BYTES LOST: sent %llu, arrived %llu\n",
                static_cast<unsigned long long>(r.bytes),
                static_cast<unsigned long long>(fast_proxy.got()));
  for (int fd : {app.client, app.accepted, proxy.client, proxy.accepted})
    ::close(fd);
  return mib(r.bytes) / delivered_after;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::printf("needs root (a namespace, BPF)\n");
    return 77;
  }
  double seconds = argc > 1 ? std::atof(argv[1]) : 3;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (seconds <= 0 || rounds < 1) {
    std::printf("usage: bench_sockmap_redirect [SECONDS] [ROUNDS]\n");
    return 2;
  }
  try {
    drover::test::netns ns{"sockmap"};
    drover::test::inside(ns, [&] {
      egress_to_a_slow_proxy(seconds);
      ingress_to_a_slow_relay(seconds);
      std::vector<double> spliced, redirected, ratio;
      for (int i = 0; i < rounds; ++i) {
        // Odd rounds the redirect first.
        double a = 0, b = 0;
        if (i % 2 == 1)
          b = throughput(true, seconds);
        a = throughput(false, seconds);
        if (i % 2 == 0)
          b = throughput(true, seconds);
        spliced.push_back(a);
        redirected.push_back(b);
        ratio.push_back(b / a);
        std::printf("   round %d: splice over loopback %.0f MiB/s, ingress "
                    "redirect %.0f MiB/s\n",
                    i + 1, a, b);
      }
      std::printf("3. nothing slow, medians of %d rounds: splice over "
                  "loopback %.0f MiB/s, ingress redirect %.0f MiB/s; "
                  "redirect / splice %.2f\n",
                  rounds, median(spliced), median(redirected), median(ratio));
      return 0;
    });
  } catch (const std::exception& e) {
    std::printf("%s\n", e.what());
    return 1;
  }
  return 0;
}
