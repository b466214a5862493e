// SOCKS5 UDP relay framing per datagram, for a 100-byte voice packet:
// encapsulate (header in front of the payload) and decapsulate (parse the
// header, build the IPv4+UDP reply for the application). Baseline: copying
// the payload once, which any relay must do.
//
//   build/bench/bench_socks5_codec --benchmark_min_time=1

#include <cstring>

#include "bench/ratio_main.hpp"
#include "net/packet.hpp"
#include "net/socks5.hpp"

using namespace drover::net;
using namespace drover::net::socks5;

namespace {

constexpr size_t voice = 100;

void copy_payload_baseline(benchmark::State& state) {
  uint8_t payload[voice], out[256];
  std::memset(payload, 0x42, sizeof payload);
  for (auto _ : state) {
    std::memcpy(out + 10, payload, voice);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void udp_encapsulate(benchmark::State& state) {
  uint8_t payload[voice], out[256];
  std::memset(payload, 0x42, sizeof payload);
  auto dst = address::from_ipv4(ipv4_address{0xa29f82ea}, 50001);
  for (auto _ : state) {
    auto n = write_udp_header(out, sizeof out, dst);
    std::memcpy(out + n, payload, voice);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void udp_decapsulate_and_build_reply(benchmark::State& state) {
  // The relay's datagram is received 18 bytes into the buffer, so its
  // payload already sits where the IPv4+UDP headers end (28 bytes).
  uint8_t buf[256];
  auto from = address::from_ipv4(ipv4_address{0xa29f82ea}, 50001);
  size_t n = write_udp_header(buf + 18, sizeof buf - 18, from);
  std::memset(buf + 18 + n, 0x42, voice);
  uint8_t received_header[32];
  std::memcpy(received_header, buf + 18, n);
  endpoint app{ipv4_address{0x0a4d0001}, 40000};
  for (auto _ : state) {
    // Building the reply in place overwrites the SOCKS header; a new
    // datagram from the relay brings a new one.
    std::memcpy(buf + 18, received_header, n);
    udp_datagram d;
    if (parse_udp_datagram(buf + 18, n + voice, d) != error::none)
      state.SkipWithError("bad datagram");
    endpoint remote{d.from.ipv4, d.from.port};
    benchmark::DoNotOptimize(build_ipv4_udp(
        buf, sizeof buf, remote, app, buf + 18 + d.payload_offset, voice, 1));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

} // namespace

BENCHMARK(copy_payload_baseline);
BENCHMARK(udp_encapsulate);
BENCHMARK(udp_decapsulate_and_build_reply);

DROVER_BENCH_MAIN({{"udp_encapsulate", "copy_payload_baseline"},
                   {"udp_decapsulate_and_build_reply",
                    "copy_payload_baseline"}})
