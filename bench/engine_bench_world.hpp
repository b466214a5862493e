#pragma once

// The bench's world (bench/engine_bench.cpp): the e2e lab's namespaces and
// dante, the servers, redsocks beside Drover, and the ways to run a client
// in each mode; shared by the parts in their own files.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "tests/support/eventually.hpp"
#include "tests/support/proxy_lab.hpp"

namespace drover::bench {

using namespace std::chrono_literals;
using drover::test::child;
using drover::test::rss_kib;
using drover::test::sh;
using drover::test::sh_output;
namespace fs = std::filesystem;

inline const std::string proxy = "10.210.0.2:1080";
inline const std::string server = "10.210.0.3";

struct bench_world : drover::test::proxy_lab {
  std::vector<std::unique_ptr<child>> servers;

  bench_world() : proxy_lab("bench") {
    // The parts make thousands of short connections a minute to the same
    // few addresses; each leaves its port in TIME_WAIT for 60 s, and once
    // they fill most of the port range, connect() spends milliseconds
    // looking for a free one (seen: every mode's connect() at 1.4-3 ms in
    // the connections' last rounds, against 25-50 us in the first). A
    // load generator's usual setting, in the bench's own namespaces: a
    // port in TIME_WAIT for over a second may be used again.
    for (auto* ns : {&app, &remote})
      sh(ns->exec("sysctl -qw net.ipv4.tcp_tw_reuse=1"));
    // That does not reach dante, which binds each connection to a server to
    // its external address before connecting: a port bound so is never one
    // still in TIME_WAIT. With the default range (28,232 ports) about
    // 28,000 connections through dante in a minute used them all: its
    // bind() searched the whole range (seen: a round at 190 connections a
    // second), then failed, and every mode through dante failed with it.
    sh(remote.exec("sysctl -qw net.ipv4.ip_local_port_range='10000 65000'"));
    // Nor is a range of 55,000 enough for more rounds (DROVER_BENCH_ROUNDS=15:
    // 60,000 connections through dante in the connections part alone; seen:
    // a round where every mode through dante fell to about 100 a second).
    // Past this many sockets in TIME_WAIT in dante's namespace, a closed
    // one skips it and frees its port at once (per namespace).
    sh(remote.exec("sysctl -qw net.ipv4.tcp_max_tw_buckets=4096"));
    for (auto [mode, port] : {std::pair{"sink", "9000"},
                              {"source", "9001"},
                              {"tcp-echo", "7"},
                              {"udp-echo", "7"}})
      servers.push_back(server(DROVER_PEER, mode, port));
    if (!wait_for_proxy())
      std::fprintf(stderr, "dante did not start\n");
    for (auto [name, extra] : {std::pair{"config.toml", ""},
                               {"no-spares.toml", "spare_connections = 0\n"}})
      std::ofstream{dir / name}
          << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1080\n"
          << extra << "[targets]\nprocesses = [\"bench-holder\"]\n";
  }

  // redsocks for the bench client's user alone (its TCP is redirected by
  // uid in the app namespace's nat table; redsocks itself runs as root, so
  // its own connection to dante is not). False when not installed.
  static constexpr const char* redsocks_uid = "65532";
  std::unique_ptr<child> redsocks;

  bool start_redsocks() {
    if (!drover::test::have_command("redsocks"))
      return false;
    auto conf = dir / "redsocks.conf";
    std::ofstream{conf} << "base { log_debug = off; log_info = off; "
                           "daemon = off; redirector = iptables; }\n"
                        << "redsocks { local_ip = 127.0.0.1; local_port = "
                           "12345; ip = "
                        << proxy_ip << "; port = 1080; type = socks5; }\n";
    redsocks = std::make_unique<child>(std::vector<std::string>{
        "ip", "netns", "exec", app.name(), "redsocks", "-c", conf.string()});
    sh(app.exec(std::string{"iptables -t nat -A OUTPUT -p tcp -m owner "
                            "--uid-owner "}
                + redsocks_uid + " -j REDIRECT --to-ports 12345"));
    return drover::test::eventually(
        [&] {
          return sh_output(app.exec("ss -tlnH sport = :12345")).find("12345")
                 != std::string::npos;
        },
        5s, 50ms);
  }

  // The peer helper as the bench client's user, through redsocks.
  std::string peer_via_redsocks(std::vector<std::string> args,
                                const std::string& program = DROVER_PEER) {
    std::vector<std::string> argv{"ip",
                                  "netns",
                                  "exec",
                                  app.name(),
                                  "setpriv",
                                  std::string{"--reuid="} + redsocks_uid,
                                  std::string{"--regid="} + redsocks_uid,
                                  "--clear-groups",
                                  program};
    argv.insert(argv.end(), args.begin(), args.end());
    child c{argv};
    c.wait(600s);
    return c.output();
  }

  // Runs the peer helper in the app namespace, directly or under drover;
  // `engine_cpu` (if given) gets the CPU seconds the drover process itself
  // used, read once it has ended and before it is reaped (the client, its
  // child, is not counted). Not sampled while it runs: a loop reading its
  // /proc stat every 10 ms took CPU in Drover's rounds only.
  std::string peer(std::vector<std::string> args, bool through_drover,
                   double* engine_cpu = nullptr,
                   const char* config = "config.toml",
                   const std::string& program = DROVER_PEER) {
    std::vector<std::string> argv{"ip", "netns", "exec", app.name()};
    if (through_drover)
      for (auto a : {std::string{DROVER_BINARY}, std::string{"run"},
                     std::string{"--config"}, (dir / config).string(),
                     std::string{"--"}})
        argv.push_back(a);
    argv.push_back(program);
    argv.insert(argv.end(), args.begin(), args.end());
    child c{argv, {"XDG_STATE_HOME=" + (dir / "state").string()}};
    if (engine_cpu != nullptr)
      *engine_cpu = c.wait_unreaped(600s) ? cpu_seconds(c.pid()) : 0;
    c.wait(600s);
    return c.output();
  }

  // User + system CPU seconds of a running process (with its children
  // that ended, when `children`), 0 once it is gone.
  static double cpu_seconds(pid_t pid, bool children = false) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text;
    std::getline(in, text); // one line
    auto close = text.rfind(')');
    if (close == std::string::npos)
      return 0;
    std::istringstream fields{text.substr(close + 2)};
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After the name: state is field 3; utime and stime are 14 and 15,
    // cutime and cstime 16 and 17.
    for (int i = 3; i <= 17 && fields >> field; ++i) {
      if (i == 14 || (children && i == 16))
        utime += std::stoull(field);
      if (i == 15 || (children && i == 17))
        stime += std::stoull(field);
    }
    return static_cast<double>(utime + stime)
           / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
};

inline double number(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex{key + " ([0-9.]+)"})) {
    std::fprintf(stderr, "no %s in: %s\n", key.c_str(), text.c_str());
    return 0;
  }
  return std::stod(m[1].str());
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The median of the rounds' ratios and their range: each round runs the
// modes one after another, so the VM's load drifting over the run (other
// guests) shifts the round's columns alike.
struct ratios {
  std::vector<double> each;
  void print(const char* name, double goal,
             const char* baseline = "explicit") const {
    auto v = each;
    std::sort(v.begin(), v.end());
    std::printf("ratio: %s/%s = %.2f (rounds %.2f-%.2f", name, baseline,
                median(v), v.front(), v.back());
    if (goal > 0)
      std::printf("; goal >= %.2f", goal);
    std::printf(")\n");
  }
};

// How many rounds the bulk and connection parts run: 5, or
// DROVER_BENCH_ROUNDS (1-99). A round's modes run one after another, so
// one round's ratio carries whatever the 2-core VM's scheduler did in it;
// more rounds narrow the median, not the spread.
inline int bench_rounds() {
  const char* env = std::getenv("DROVER_BENCH_ROUNDS");
  int n = env ? std::atoi(env) : 0;
  return n >= 1 && n <= 99 ? n : 5;
}

// Runs `modes` in order on odd rounds and in reverse on even ones, so that
// no mode always runs right after the same other (a warm cache, a
// scheduler that just settled) and each ratio's two figures swap places.
inline void take_turns(int round,
                       const std::vector<std::function<void()>>& modes) {
  if (round % 2 == 0)
    for (auto& m : modes)
      m();
  else
    for (auto it = modes.rbegin(); it != modes.rend(); ++it)
      (*it)();
}

// The parts in files of their own.
void iperf3(bench_world& w);

} // namespace drover::bench
