// The bench's iperf3 part (bench/engine_bench.cpp runs it).

#include "bench/engine_bench_world.hpp"

namespace drover::bench {

// The same transfers measured by iperf3, a tool nobody here wrote, on the
// transparent paths only (it speaks no SOCKS5, so there is no explicit
// column): direct, through Drover (`drover run -- iperf3`) and through
// redsocks, five rounds of 3 s each way, the modes taking turns; the
// receiver's rate as iperf3 reports it.
void iperf3(bench_world& w) {
  if (!drover::test::have_command("iperf3")) {
    std::printf("\nnote: iperf3 is not installed: its part is left out\n");
    return;
  }
  child listener{{"ip", "netns", "exec", w.remote.name(), "iperf3", "-s", "-B",
                  server, "-p", "5201", "--forceflush"}};
  if (!listener.wait_for_output("Server listening", 10s)) {
    std::printf("\nthe iperf3 server did not start: %s\n",
                listener.output().c_str());
    return;
  }
  // The server takes one test at a time and says when it listens again; a
  // client that comes sooner is told "busy". Called before each client.
  size_t tests = 0;
  auto when_listening = [&] {
    drover::test::eventually(
        [&] {
          auto& out = listener.output();
          size_t n = 0;
          for (auto at = out.find("Server listening"); at != std::string::npos;
               at = out.find("Server listening", at + 1))
            ++n;
          return n > tests;
        },
        10s);
    ++tests;
  };
  constexpr int rounds = 5;
  // "sum_received", in the report's "end" only: the receiver's totals.
  auto received = [](const std::string& json, const std::string& key) {
    auto end = json.find("\"sum_received\"");
    std::smatch m;
    auto rest = end == std::string::npos ? std::string{} : json.substr(end);
    if (!std::regex_search(rest, m,
                           std::regex{"\"" + key + "\":\\s*([0-9.e+-]+)"})) {
      std::fprintf(stderr, "no %s in: %s\n", key.c_str(),
                   json.substr(0, 300).c_str());
      return 0.0;
    }
    return std::stod(m[1].str());
  };
  auto mib_per_s = [&](const std::string& json) {
    return received(json, "bits_per_second") / 8 / (1 << 20);
  };
  for (bool download : {false, true}) {
    std::printf("\n== iperf3 TCP %s, %d rounds of 3 s (MiB/s, median)\n",
                download ? "download (-R)" : "upload", rounds);
    std::vector<std::string> args{"-c", server, "-p", "5201", "-t", "3", "-J"};
    if (download)
      args.push_back("-R");
    std::vector<double> direct, drover, redsocks;
    ratios drover_ratio, redsocks_ratio;
    for (int i = 0; i < rounds; ++i) {
      when_listening();
      direct.push_back(
          mib_per_s(w.peer(args, false, nullptr, "config.toml", "iperf3")));
      when_listening();
      drover.push_back(
          mib_per_s(w.peer(args, true, nullptr, "config.toml", "iperf3")));
      drover_ratio.each.push_back(drover.back() / direct.back());
      if (w.redsocks) {
        when_listening();
        redsocks.push_back(mib_per_s(w.peer_via_redsocks(args, "iperf3")));
        redsocks_ratio.each.push_back(redsocks.back() / direct.back());
      }
    }
    std::printf("direct %.0f   through Drover %.0f", median(direct),
                median(drover));
    if (w.redsocks)
      std::printf("   redsocks %.0f", median(redsocks));
    std::printf("\n");
    drover_ratio.print("drover", 0, "direct");
    if (w.redsocks)
      redsocks_ratio.print("redsocks", 0, "direct");
  }
  // A voice-like stream each way: 1 Mbit/s in 200-byte datagrams; the
  // receiver's jitter (RFC 3550's running estimate, from the sender's
  // timestamps) and loss. redsocks, as set up here, carries no UDP.
  for (bool download : {false, true}) {
    std::printf("\n== iperf3 UDP %s, 1 Mbit/s in 200-byte datagrams, %d "
                "rounds of 3 s (medians)\n",
                download ? "download (-R)" : "upload", rounds);
    std::vector<std::string> args{"-c", server, "-p",  "5201", "-u", "-b",
                                  "1M", "-l",   "200", "-t",   "3",  "-J"};
    if (download)
      args.push_back("-R");
    std::vector<double> jitter[2], lost[2];
    for (int i = 0; i < rounds; ++i)
      for (int m = 0; m < 2; ++m) {
        when_listening();
        auto out = w.peer(args, m == 1, nullptr, "config.toml", "iperf3");
        jitter[m].push_back(received(out, "jitter_ms") * 1000);
        lost[m].push_back(received(out, "lost_percent"));
      }
    const char* names[2] = {"direct", "through Drover"};
    for (int m = 0; m < 2; ++m)
      std::printf("%-16s jitter %.1f us (rounds %.1f-%.1f)   lost %.2f %%\n",
                  names[m], median(jitter[m]),
                  *std::min_element(jitter[m].begin(), jitter[m].end()),
                  *std::max_element(jitter[m].begin(), jitter[m].end()),
                  median(lost[m]));
  }
}

} // namespace drover::bench
