// What exec-time capture costs the rest of the machine (Linux, root): the
// real engine running in a namespace of the bench's own, engine off vs on,
// in one run.
//
//   build/bench/bench_capture_cost [EXECS=10000] [SOCKETS=100000]
//
// - fork + exec + wait of /bin/true, EXECS times: the engine adds no exec
//   hook, so this should not move (the budget: +20 µs per exec);
// - socket() + close(), SOCKETS times, by a process that is not a target
//   and by one that is: the kernel program runs at every socket creation
//   of the machine.
// Each pair is measured off, on, off again; the ratio is on / mean(off).

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using drover::test::child;
namespace fs = std::filesystem;

namespace {

using bench_clock = std::chrono::steady_clock;

double execs_per_us(int n) {
  auto start = bench_clock::now();
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/true", "true", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::waitpid(pid, nullptr, 0);
  }
  return std::chrono::duration<double, std::micro>(bench_clock::now() - start)
             .count()
         / n;
}

double sockets_per_us(int n) {
  auto start = bench_clock::now();
  for (int i = 0; i < n; ++i)
    ::close(::socket(AF_INET, i % 2 == 0 ? SOCK_STREAM : SOCK_DGRAM, 0));
  return std::chrono::duration<double, std::micro>(bench_clock::now() - start)
             .count()
         / n;
}

struct engine_on {
  std::unique_ptr<child> engine;
  engine_on(const drover::test::netns& ns, const fs::path& dir,
            const std::string& target) {
    auto config = dir / "config.toml";
    // No proxy answers there: the engine keeps trying, capture in place.
    std::ofstream{config} << "[proxy]\nhost = \"127.0.0.1\"\nport = 1\n"
                          << "[targets]\nprocesses = [\"" << target << "\"]\n";
    engine = std::make_unique<child>(
        std::vector<std::string>{"ip", "netns", "exec", ns.name(),
                                 DROVER_BINARY, "--headless", "--config",
                                 config.string()},
        std::vector<std::string>{"XDG_STATE_HOME=" + (dir / "state").string()});
    if (!engine->wait_for_output("capture guard in place", 20s))
      std::fprintf(stderr, "the engine did not start:\n%s\n",
                   engine->output().c_str());
  }
  ~engine_on() {
    engine->kill(SIGTERM);
    engine->wait(20s);
  }
};

template<class Measure>
void compare(const char* what, const drover::test::netns& ns,
             const fs::path& dir, const std::string& target, Measure measure) {
  auto off1 = drover::test::inside(ns, measure);
  double on = 0;
  {
    engine_on e{ns, dir, target};
    on = drover::test::inside(ns, measure);
  }
  auto off2 = drover::test::inside(ns, measure);
  auto off = (off1 + off2) / 2;
  std::printf("%-34s off %8.3f us  on %8.3f us  added %+7.3f us  x %.3f\n",
              what, off, on, on - off, on / off);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  if (!drover::test::is_root()) {
    std::fprintf(stderr, "bench_capture_cost needs root\n");
    return 2;
  }
  int execs = argc > 1 ? std::atoi(argv[1]) : 10000;
  int sockets = argc > 2 ? std::atoi(argv[2]) : 100000;
  drover::test::netns ns{"cost"};
  auto dir = fs::temp_directory_path()
             / ("drover-bench-cost-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto self = fs::read_symlink("/proc/self/exe").filename().string();
  std::printf("per operation, engine off vs on (%d execs, %d sockets)\n", execs,
              sockets);
  compare("fork+exec+wait /bin/true", ns, dir, "no-such-program",
          [&] { return execs_per_us(execs); });
  compare("socket+close, not a target", ns, dir, "no-such-program",
          [&] { return sockets_per_us(sockets); });
  compare("socket+close, a target", ns, dir, self,
          [&] { return sockets_per_us(sockets); });
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
