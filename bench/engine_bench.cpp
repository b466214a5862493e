// The Linux engine end to end, against the same dante in the same
// namespaces, in one run (root). Reports ratios against baselines measured
// in the same run: a client speaking SOCKS5 itself ("explicit"), no proxy
// at all ("direct"), and the Linux peer users compare Drover with,
// redsocks (Debian's 0.5: the kernel's REDIRECT sends the client's TCP to
// it, and it speaks SOCKS5 to the same dante), when it is installed.
//
//   build/bench/bench_engine [MIB=512] [FLOWS=10000] [SECTIONS=all]
//
// SECTIONS is a comma-separated subset of bulk,iperf3,udp,conn,far,memory (to
// profile one phase alone, e.g. under `perf record -a`); "far" is the
// connections again with the proxy 20 ms away (bench/delay_line.cpp).
//
// Topology as in tests/e2e: app 10.210.0.1 -- remote 10.210.0.2 (dante
// :1080) and 10.210.0.3 (sink :9000, source :9001, TCP echo :7, UDP echo
// :7).

#include <sys/resource.h>

#include <thread>

#include "bench/engine_bench_world.hpp"
#include "net/flow_table.hpp"

using namespace drover::bench;

namespace {

void bulk(bench_world& w, const std::string& mib);
void udp(bench_world& w);
void connections(bench_world& w, int count = 1000, const char* where = "");
void connections_far(bench_world& w);
void memory(bench_world& w, int flows);

} // namespace

int main(int argc, char** argv) {
  if (!drover::test::is_root()) {
    std::fprintf(stderr, "bench_engine needs root (network namespaces)\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mib = argc > 1 ? argv[1] : "512";
  int flows = argc > 2 ? std::atoi(argv[2]) : 10000;
  std::string sections = argc > 3 ? argv[3] : "bulk,iperf3,udp,conn,far,memory";
  auto wanted = [&](const std::string& name) {
    return ("," + sections + ",").find("," + name + ",") != std::string::npos;
  };
  rlimit lim{1u << 18, 1u << 18}; // the holder keeps `flows` sockets open
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) { // without CAP_SYS_RESOURCE
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  // The engine inherits this limit and caps its flows to fit it; holding
  // more would only measure evictions.
  auto budget = drover::net::flows_within_descriptor_budget(
      static_cast<uint32_t>(flows), lim.rlim_cur,
      drover::net::descriptors_per_relayed_flow);
  if (budget < static_cast<uint32_t>(flows)) {
    std::printf("note: the open-file limit (%lu) allows the engine %u "
                "flows; measuring %u instead of %d\n",
                static_cast<unsigned long>(lim.rlim_cur), budget, budget,
                flows);
    flows = static_cast<int>(budget);
  }
  bench_world w;
  if (!w.start_redsocks())
    std::printf("note: redsocks is not installed (apt install redsocks): its "
                "column is left out\n");

  if (wanted("bulk"))
    bulk(w, mib);
  if (wanted("iperf3"))
    iperf3(w);
  if (wanted("udp"))
    udp(w);
  if (wanted("conn"))
    connections(w);
  if (wanted("far"))
    connections_far(w);
  if (wanted("memory"))
    memory(w, flows);
  return 0;
}

namespace {

// One direction of bulk TCP: `mode` "bulk" uploads to the sink, "bulk-down"
// downloads from the source.
void bulk_way(bench_world& w, const std::string& mib, const char* mode,
              const char* port, const char* what, double goal) {
  const int rounds = bench_rounds();
  std::printf("== bulk TCP %s, %s MiB, %d rounds (MiB/s, median)\n", what,
              mib.c_str(), rounds);
  std::vector<double> direct, explicit_socks, drover, redsocks;
  ratios drover_ratio, redsocks_ratio;
  double drover_cpu = 0, redsocks_cpu = 0;
  // What starting and stopping the engine costs (`drover run` with 1 MiB:
  // loading its kernel programs, the first rule check), taken off each
  // round's CPU so the figure is the relaying's.
  double start_cpu = 0;
  w.peer({mode, server, port, "1"}, true, &start_cpu);
  for (int i = 0; i < rounds; ++i) {
    std::vector<std::function<void()>> modes{
        [&] {
          direct.push_back(
              number(w.peer({mode, server, port, mib}, false), "mib_per_s"));
        },
        [&] {
          explicit_socks.push_back(number(
              w.peer({mode, server, port, mib, proxy}, false), "mib_per_s"));
        },
        [&] {
          double cpu = 0;
          drover.push_back(number(w.peer({mode, server, port, mib}, true, &cpu),
                                  "mib_per_s"));
          drover_cpu += std::max(0.0, cpu - start_cpu);
        }};
    if (w.redsocks)
      modes.push_back([&] {
        auto before = bench_world::cpu_seconds(w.redsocks->pid());
        redsocks.push_back(number(
            w.peer_via_redsocks({mode, server, port, mib}), "mib_per_s"));
        redsocks_cpu += bench_world::cpu_seconds(w.redsocks->pid()) - before;
      });
    take_turns(i, modes);
    drover_ratio.each.push_back(drover.back() / explicit_socks.back());
    if (w.redsocks)
      redsocks_ratio.each.push_back(redsocks.back() / explicit_socks.back());
    std::printf("  round %d: direct %.0f  explicit %.0f  Drover %.0f", i + 1,
                direct.back(), explicit_socks.back(), drover.back());
    if (w.redsocks)
      std::printf("  redsocks %.0f", redsocks.back());
    std::printf("\n");
  }
  auto gib = rounds * std::stod(mib) / 1024;
  auto d = median(direct), e = median(explicit_socks), t = median(drover);
  std::printf("direct %.0f   explicit SOCKS5 %.0f   through Drover %.0f"
              "   (drover/direct %.2f, explicit/direct %.2f)\n",
              d, e, t, t / d, e / d);
  drover_ratio.print("drover", goal);
  if (w.redsocks) {
    std::printf("redsocks %.0f   ", median(redsocks));
    redsocks_ratio.print("redsocks", 0);
  }
  std::printf("CPU per GiB relayed: Drover %.2f s (its start and stop, "
              "%.2f s a run, left out)",
              drover_cpu / gib, start_cpu);
  if (w.redsocks)
    std::printf("   redsocks %.2f s", redsocks_cpu / gib);
  std::printf("\n");
}

void bulk(bench_world& w, const std::string& mib) {
  bulk_way(w, mib, "bulk", "9000", "upload", 0.95);
  std::printf("\n");
  bulk_way(w, mib, "bulk-down", "9001", "download", 0.9);
}

// Five rounds, the modes taking turns within each (as bulk_way's): one run of
// 5000 round trips moved its p50 by 10-15 us from one run to the next on this
// VM. The medians of the rounds' percentiles, and of each round's difference
// between Drover and the explicit client.
void udp(bench_world& w) {
  constexpr int rounds = 5;
  std::printf("\n== UDP round trip, 100-byte datagrams, %d rounds of 5000 "
              "(us, medians of the rounds)\n",
              rounds);
  std::vector<std::string> args{"udp-rtt", server, "7", "5000"};
  auto with_proxy = args;
  with_proxy.push_back(proxy);
  std::vector<double> p50[3], p99[3], p999[3], added50, added99;
  for (int i = 0; i < rounds; ++i) {
    std::string out[3]
        = {w.peer(args, false), w.peer(with_proxy, false), w.peer(args, true)};
    for (int m = 0; m < 3; ++m) {
      p50[m].push_back(number(out[m], "p50_us"));
      p99[m].push_back(number(out[m], "p99_us"));
      p999[m].push_back(number(out[m], "p999_us"));
    }
    added50.push_back(p50[2].back() - p50[1].back());
    added99.push_back(p99[2].back() - p99[1].back());
  }
  const char* names[3] = {"direct", "explicit SOCKS5", "through Drover"};
  for (int m = 0; m < 3; ++m)
    std::printf("%-16s p50 %.1f  p99 %.1f  p99.9 %.1f (worst round %.1f)\n",
                names[m], median(p50[m]), median(p99[m]), median(p999[m]),
                *std::max_element(p999[m].begin(), p999[m].end()));
  std::printf(
      "added by Drover over explicit: p50 %+.1f us (rounds %+.1f to "
      "%+.1f), p99 %+.1f us (rounds %+.1f to %+.1f) (goal: at most "
      "+30 and +200; no stall over 2 ms at p99.9)\n",
      median(added50), *std::min_element(added50.begin(), added50.end()),
      *std::max_element(added50.begin(), added50.end()), median(added99),
      *std::min_element(added99.begin(), added99.end()),
      *std::max_element(added99.begin(), added99.end()));
}

// bench_rounds() rounds, the modes taking turns within each (take_turns()).
// Each mode's rate, and its connections' times to the server's banner (the
// medians of the rounds' percentiles): a rate can hide a few stalls.
void connections(bench_world& w, int count, const char* where) {
  const int rounds = bench_rounds();
  std::printf("\n== new TCP connections%s, %d rounds of %d sequential "
              "(per second, median; time to the banner in us)\n",
              where, rounds, count);
  struct mode {
    explicit mode(const char* n) : name(n) {}
    const char* name;
    std::vector<double> rate, p50, p99, p999;
    ratios ratio;
    std::string wrong_way; // a connection the server saw from elsewhere
    void add(const std::string& out, const std::string& from) {
      std::smatch m;
      if (!std::regex_search(out, m, std::regex{"seen_from (\\S+)"})
          || m[1].str() != from)
        wrong_way = out.substr(0, 200);
      rate.push_back(number(out, "conns_per_s"));
      p50.push_back(number(out, "p50_us"));
      p99.push_back(number(out, "p99_us"));
      p999.push_back(number(out, "p999_us"));
    }
  };
  // spare_connections = 0: every connection opens and greets its own proxy
  // connection (pipelined: greeting and CONNECT in one segment).
  mode direct{"direct"}, explicit_socks{"explicit SOCKS5"},
      drover{"through Drover"}, no_spares{"Drover, no spares"},
      redsocks{"redsocks"};
  std::vector<std::string> args{"conn-rate", server, "7",
                                std::to_string(count)};
  auto with_proxy = args;
  with_proxy.push_back(proxy);
  for (int i = 0; i < rounds; ++i) {
    std::vector<std::function<void()>> modes{
        [&] { direct.add(w.peer(args, false), w.app_ip); },
        [&] { explicit_socks.add(w.peer(with_proxy, false), w.proxy_ip); },
        [&] { drover.add(w.peer(args, true), w.proxy_ip); },
        [&] {
          no_spares.add(w.peer(args, true, nullptr, "no-spares.toml"),
                        w.proxy_ip);
        }};
    if (w.redsocks)
      modes.push_back(
          [&] { redsocks.add(w.peer_via_redsocks(args), w.proxy_ip); });
    take_turns(i, modes);
    auto base = explicit_socks.rate.back();
    std::printf("  round %d:", i + 1);
    for (auto* m : {&direct, &explicit_socks, &drover, &no_spares, &redsocks})
      if (!m->rate.empty())
        std::printf("  %s %.0f", m->name, m->rate.back());
    std::printf("\n");
    for (auto* m : {&drover, &no_spares, &redsocks})
      if (!m->rate.empty())
        m->ratio.each.push_back(m->rate.back() / base);
  }
  for (auto* m : {&direct, &explicit_socks, &drover, &no_spares, &redsocks})
    if (!m->rate.empty()) {
      std::printf("%-18s %5.0f/s   p50 %6.1f  p99 %7.1f  p99.9 %8.1f\n",
                  m->name, median(m->rate), median(m->p50), median(m->p99),
                  median(m->p999));
      if (!m->wrong_way.empty())
        std::printf("  NOT THE WAY EXPECTED: %s\n", m->wrong_way.c_str());
    }
  drover.ratio.print("drover", 0.9);
  no_spares.ratio.print("drover-without-spares", 0);
  if (w.redsocks)
    redsocks.ratio.print("redsocks", 0);
}

// The same with the proxy a real network away, as the users' is (in
// another country: tens of milliseconds): a delay line in dante's
// namespace holds each packet between the client side and dante for half
// of `rtt_ms` each way, so each exchange with the proxy (its TCP
// handshake, the greeting, the CONNECT) takes a round trip that long. The
// round trips Drover saves count here as they do for users; next door
// they were worth microseconds. The server stays next to the proxy, and
// direct next to the client.
void connections_far(bench_world& w) {
  constexpr int rtt_ms = 20;
  child delay{{"ip", "netns", "exec", w.remote.name(), DROVER_DELAY_LINE, "9",
               std::to_string(rtt_ms / 2)}};
  if (!delay.wait_for_output("ready", 10s)) {
    std::printf("\nthe delay line did not start: %s\n", delay.output().c_str());
    return;
  }
  // --queue-bypass: should the delay line end, the packets go undelayed.
  auto queue = std::string{" -j NFQUEUE --queue-num 9 --queue-bypass"};
  std::vector<std::string> rules{
      "PREROUTING -p tcp -d " + w.proxy_ip + " --dport 1080" + queue,
      "OUTPUT -p tcp -s " + w.proxy_ip + " --sport 1080" + queue};
  bool delayed = true;
  for (auto& r : rules)
    delayed = sh(w.remote.exec("iptables -t mangle -A " + r)) == 0 && delayed;
  if (delayed)
    connections(w, 100,
                (", the proxy " + std::to_string(rtt_ms) + " ms away").c_str());
  else
    std::printf("\nthe delay line's rules could not be added\n");
  for (auto& r : rules)
    sh(w.remote.exec("iptables -t mangle -D " + r + " 2>/dev/null"));
}

void memory(bench_world& w, int flows) {
  std::printf("\n== engine memory (RSS)\n");
  child engine{{"ip", "netns", "exec", w.app.name(), DROVER_BINARY,
                "--headless", "--config", (w.dir / "config.toml").string()},
               {"XDG_STATE_HOME=" + (w.dir / "state").string()}};
  engine.wait_for_output("active: proxying", 20s);
  auto holder_path = w.dir / "bench-holder";
  fs::copy_file(DROVER_PEER, holder_path);
  auto idle = rss_kib(engine.pid());
  // Idle CPU: the measurement is the window itself. The watchdog's rule
  // checks (iptables-save, each second) are the engine's children.
  auto cpu_before = bench_world::cpu_seconds(engine.pid(), true);
  auto own_before = bench_world::cpu_seconds(engine.pid());
  std::this_thread::sleep_for(10s);
  auto idle_cpu = bench_world::cpu_seconds(engine.pid(), true) - cpu_before;
  auto own_cpu = bench_world::cpu_seconds(engine.pid()) - own_before;
  std::printf("idle CPU: %.1f ms a second (over 10 s), %.1f of them the "
              "engine's own, the rest the watchdog's rule checks\n",
              idle_cpu * 100, own_cpu * 100);
  child holder{{"ip", "netns", "exec", w.app.name(), holder_path.string(),
                "wait-then-hold", server, "7", std::to_string(flows)}};
  engine.wait_for_output("capturing bench-holder", 10s);
  holder.write_line("go");
  bool held = holder.wait_for_output("held " + std::to_string(flows), 300s);
  auto busy = rss_kib(engine.pid());
  std::printf("idle %ld KiB   with %d open TCP flows %ld KiB%s\n", idle, flows,
              busy, held ? "" : "  (not all flows opened!)");
  std::printf("per flow: %.1f KiB (engine only; each flow also holds 2 file "
              "descriptors)\n",
              static_cast<double>(busy - idle) / flows);
  if (!held) {
    std::printf("holder: %s\n", holder.output().substr(0, 500).c_str());
    if (!engine.running()) {
      auto& out = engine.output();
      std::printf(
          "the engine exited (status %d); its last output:\n%s\n",
          engine.wait(1s),
          out.substr(out.size() > 2000 ? out.size() - 2000 : 0).c_str());
    }
  }
  holder.kill(SIGTERM);
  engine.kill(SIGTERM);
  engine.wait(20s);
}

} // namespace
