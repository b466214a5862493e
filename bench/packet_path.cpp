// The per-packet work of the flow-manager, on a table of 10,000 flows:
// parse, classify, NAT lookup, touch, rewrite with incremental checksums.
// Baseline: copying the packet (what receiving it costs at the least).
//
//   build/bench/bench_packet_path --benchmark_min_time=1

#include <cstring>
#include <random>
#include <vector>

#include "bench/ratio_main.hpp"
#include "net/bytes.hpp"
#include "net/flow_table.hpp"
#include "net/packet.hpp"

using namespace drover::net;

namespace {

constexpr size_t flows = 10000;
constexpr size_t templates = 4096; // packets for random flows, cycled

const listener_address listener{nat_shape::loopback, 15001};

// A real TCP data segment from tests/data (10.77.0.1 -> 10.77.0.2:8080,
// 15 bytes of payload), as captured.
const uint8_t tcp_data_segment[]
    = {0x45, 0x00, 0x00, 0x43, 0xca, 0x7a, 0x40, 0x00, 0x40, 0x06, 0x5b, 0x9e,
       0x0a, 0x4d, 0x00, 0x01, 0x0a, 0x4d, 0x00, 0x02, 0x90, 0xa6, 0x1f, 0x90,
       0x9f, 0x98, 0x86, 0x7f, 0xad, 0x71, 0x16, 0x2e, 0x80, 0x18, 0x00, 0x3f,
       0xe7, 0xda, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0xed, 0x88, 0xcf, 0xe3,
       0x64, 0x51, 0x17, 0x84, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x6f, 0x76,
       0x65, 0x72, 0x20, 0x74, 0x63, 0x70, 0x0a};

struct fixture {
  flow_table table{[] {
    flow_table::options o;
    o.max_flows = 16384;
    o.listener = {listener.loopback_ip, listener.port};
    return o;
  }()};
  std::vector<std::vector<uint8_t>> outbound; // app -> remote
  std::vector<std::vector<uint8_t>> inbound;  // listener -> peer

  fixture() {
    std::mt19937 rng{1};
    std::vector<flow_key> keys;
    for (size_t i = 0; i < flows; ++i) {
      flow_key k{
          proto_tcp,
          {ipv4_address{0x0a4d0001}, static_cast<uint16_t>(20000 + i)},
          {ipv4_address{0xa29f8000u + static_cast<uint32_t>(i % 251)}, 443}};
      table.insert(k, flow_time{});
      keys.push_back(k);
    }
    for (size_t i = 0; i < templates; ++i) {
      auto& k = keys[rng() % flows];
      std::vector<uint8_t> p(std::begin(tcp_data_segment),
                             std::end(tcp_data_segment));
      packet_ref r{p.data(), {}};
      parse(p.data(), p.size(), r.info);
      set_source(r, k.src);
      set_destination(r, k.dst);
      outbound.push_back(p);
      set_source(r, {listener.loopback_ip, listener.port});
      set_destination(r, table.find(k)->listener_peer);
      inbound.push_back(p);
    }
  }
};

fixture& shared() {
  static fixture f;
  return f;
}

void copy_baseline(benchmark::State& state) {
  auto& f = shared();
  uint8_t work[128];
  size_t i = 0;
  for (auto _ : state) {
    auto& p = f.outbound[i++ & (templates - 1)];
    std::memcpy(work, p.data(), p.size());
    benchmark::DoNotOptimize(work);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void parse_only(benchmark::State& state) {
  auto& f = shared();
  uint8_t work[128];
  size_t i = 0;
  for (auto _ : state) {
    auto& p = f.outbound[i++ & (templates - 1)];
    std::memcpy(work, p.data(), p.size());
    packet_info info;
    benchmark::DoNotOptimize(parse(work, p.size(), info));
    benchmark::DoNotOptimize(info);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Outbound: the application's packet to the listener.
void packet_path(benchmark::State& state) {
  auto& f = shared();
  uint8_t work[128];
  size_t i = 0;
  flow_time now{};
  for (auto _ : state) {
    auto& p = f.outbound[i++ & (templates - 1)];
    std::memcpy(work, p.data(), p.size());
    packet_ref r{work, {}};
    if (parse(work, p.size(), r.info) != parse_error::none
        || is_from_listener(r.info, listener))
      state.SkipWithError("unexpected packet");
    auto* e = f.table.find({proto_tcp, r.info.src, r.info.dst});
    now += std::chrono::microseconds{1};
    f.table.touch(*e, now);
    e->bytes_out += r.info.payload_length;
    benchmark::DoNotOptimize(to_listener(r, listener, e->nat()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Return path: the listener's packet back to the application.
void return_path(benchmark::State& state) {
  auto& f = shared();
  uint8_t work[128];
  size_t i = 0;
  flow_time now{};
  for (auto _ : state) {
    auto& p = f.inbound[i++ & (templates - 1)];
    std::memcpy(work, p.data(), p.size());
    packet_ref r{work, {}};
    if (parse(work, p.size(), r.info) != parse_error::none
        || !is_from_listener(r.info, listener))
      state.SkipWithError("unexpected packet");
    auto* e = f.table.find_by_listener_peer(r.info.dst);
    now += std::chrono::microseconds{1};
    f.table.touch(*e, now);
    e->bytes_in += r.info.payload_length;
    benchmark::DoNotOptimize(from_listener(r, listener, e->nat()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// A 64 KiB GSO super-packet: incremental rewrite against recomputing the
// TCP checksum over the whole packet.
std::vector<uint8_t> gso_packet() {
  std::vector<uint8_t> p(65535, 0x5a);
  std::memcpy(p.data(), tcp_data_segment, 52);
  store16(p.data() + 2, 65535);
  packet_info info;
  parse(p.data(), p.size(), info);
  recompute_checksums(p.data(), info);
  return p;
}

void gso_full_recompute(benchmark::State& state) {
  auto p = gso_packet();
  packet_info info;
  parse(p.data(), p.size(), info);
  for (auto _ : state) {
    store32(p.data() + 16, 0x7f000001);
    recompute_checksums(p.data(), info);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void gso_incremental_rewrite(benchmark::State& state) {
  auto p = gso_packet();
  packet_ref r{p.data(), {}};
  parse(p.data(), p.size(), r.info);
  endpoint a{ipv4_address{0x7f000001}, 15001}, b = r.info.dst;
  bool flip = false;
  for (auto _ : state) {
    set_destination(r, (flip = !flip) ? a : b);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

} // namespace

BENCHMARK(copy_baseline);
BENCHMARK(parse_only);
BENCHMARK(packet_path);
BENCHMARK(return_path);
BENCHMARK(gso_full_recompute);
BENCHMARK(gso_incremental_rewrite);

DROVER_BENCH_MAIN({{"parse_only", "copy_baseline"},
                   {"packet_path", "copy_baseline"},
                   {"return_path", "copy_baseline"},
                   {"gso_incremental_rewrite", "gso_full_recompute"}})
