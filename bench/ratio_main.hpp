#pragma once

// A benchmark main() that also prints, after the normal report, how each
// benchmark compares to its baseline measured in the same run:
//   ratio: packet_path/10000 = 2.31 x copy_baseline
// Ratios, not absolute times, are what docs/benchmarks.md compares.

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

namespace drover::bench {

class ratio_reporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (auto& r : runs)
      if (r.run_type == Run::RT_Iteration && !r.error_occurred)
        ns_per_item_[r.benchmark_name()]
            = r.GetAdjustedRealTime() / per_iteration_items(r);
    ConsoleReporter::ReportRuns(runs);
  }

  void
  print_ratios(const std::vector<std::pair<std::string, std::string>>& pairs) {
    for (auto& [name, baseline] : pairs) {
      auto a = ns_per_item_.find(name);
      auto b = ns_per_item_.find(baseline);
      if (a == ns_per_item_.end() || b == ns_per_item_.end())
        continue;
      std::printf("ratio: %s = %.3g x %s (%.1f ns vs %.1f ns per item)\n",
                  name.c_str(), a->second / b->second, baseline.c_str(),
                  a->second, b->second);
    }
  }

private:
  static double per_iteration_items(const Run& r) {
    auto it = r.counters.find("items");
    return it == r.counters.end() ? 1.0 : it->second.value;
  }

  std::map<std::string, double> ns_per_item_;
};

} // namespace drover::bench

#define DROVER_BENCH_MAIN(...)                    \
  int main(int argc, char** argv) {               \
    benchmark::Initialize(&argc, argv);           \
    drover::bench::ratio_reporter reporter;       \
    benchmark::RunSpecifiedBenchmarks(&reporter); \
    reporter.print_ratios(__VA_ARGS__);           \
    benchmark::Shutdown();                        \
    return 0;                                     \
  }
