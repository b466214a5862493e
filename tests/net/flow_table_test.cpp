#include <map>
#include <random>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "net/flow_table.hpp"
#include "tests/support/alloc_counter.hpp"

using namespace drover::net;
using namespace std::chrono_literals;

namespace {

endpoint ep(const char* ip, uint16_t port) {
  return {*parse_ipv4(ip), port};
}

flow_key tcp(uint16_t sport, const char* dst = "10.0.0.2",
             uint16_t dport = 443) {
  return {proto_tcp, ep("10.0.0.1", sport), ep(dst, dport)};
}

flow_key udp(uint16_t sport, const char* dst = "10.0.0.2",
             uint16_t dport = 50000) {
  return {proto_udp, ep("10.0.0.1", sport), ep(dst, dport)};
}

flow_table::options opts(uint32_t max = 1024,
                         nat_shape shape = nat_shape::loopback) {
  flow_table::options o;
  o.max_flows = max;
  o.shape = shape;
  o.listener = ep("127.0.0.1", 15001);
  return o;
}

const flow_time t0{};

} // namespace

TEST(flow_table, insert_and_find_by_key_and_listener_peer) {
  flow_table t{opts()};
  auto* e = t.insert(tcp(40000), t0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find(tcp(40000)), e);
  EXPECT_EQ(t.find(tcp(40001)), nullptr);
  EXPECT_EQ(t.find(udp(40000)), nullptr) << "protocol is part of the key";
  EXPECT_EQ(e->listener_peer, ep("127.0.0.1", 40000));
  EXPECT_EQ(t.find_by_listener_peer(ep("127.0.0.1", 40000)), e);
  EXPECT_EQ(t.find_by_listener_peer(ep("127.0.0.1", 40001)), nullptr);
  EXPECT_EQ(e->nat().remote, ep("10.0.0.2", 443));
  auto* u = t.insert(udp(40000), t0);
  ASSERT_NE(u, nullptr);
  EXPECT_NE(u->id, e->id);
  EXPECT_EQ(t.find_by_listener_peer(ep("127.0.0.1", 40000)), e)
      << "UDP flows have no listener peer";
}

TEST(flow_table, same_source_port_to_two_destinations_gets_unique_peers) {
  // Linux may reuse a source port towards different destinations; the
  // listener must still tell the flows apart.
  flow_table t{opts()};
  auto* a = t.insert(tcp(40000, "10.0.0.2"), t0);
  auto* b = t.insert(tcp(40000, "10.0.0.3"), t0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->listener_peer, b->listener_peer);
  EXPECT_EQ(t.find_by_listener_peer(a->listener_peer), a);
  EXPECT_EQ(t.find_by_listener_peer(b->listener_peer), b);
  t.erase(*a);
  auto* c = t.insert(tcp(40000, "10.0.0.4"), t0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->listener_peer, ep("127.0.0.1", 40000)) << "freed alias reused";
}

TEST(flow_table, a_peer_never_equals_the_listener) {
  flow_table t{opts()};
  auto* e = t.insert(tcp(15001), t0); // source port == listener port
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->listener_peer, ep("127.0.0.2", 15001));
}

TEST(flow_table, reflection_peer_collisions_are_refused) {
  flow_table t{opts(1024, nat_shape::reflection)};
  auto* a = t.insert(tcp(40000, "10.0.0.2", 443), t0);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->listener_peer, ep("10.0.0.2", 40000));
  EXPECT_EQ(t.insert(tcp(40000, "10.0.0.2", 80), t0), nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.insert(tcp(40000, "10.0.0.3", 80), t0), nullptr);
}

TEST(flow_table, idle_flows_expire_per_protocol) {
  flow_table t{opts()};
  for (uint16_t p = 1; p <= 10; ++p) {
    t.insert(tcp(p), t0);
    t.insert(udp(p), t0);
  }
  auto* kept = t.find(udp(3));
  t.touch(*kept, t0 + 4min);
  std::vector<flow_key> expired;
  auto collect = [&](const flow_entry& e) {
    expired.push_back(e.key);
  };
  EXPECT_EQ(t.sweep(t0 + 5min - 1ns, collect), 0u);
  EXPECT_EQ(t.sweep(t0 + 5min, collect), 9u) << "UDP after 5 minutes";
  for (auto& k : expired)
    EXPECT_EQ(k.protocol, proto_udp);
  EXPECT_NE(t.find(udp(3)), nullptr);
  EXPECT_EQ(t.sweep(t0 + 9min, collect), 1u);
  expired.clear();
  EXPECT_EQ(t.sweep(t0 + 30min, collect), 10u) << "TCP after 30 minutes";
  EXPECT_EQ(t.size(), 0u);
}

TEST(flow_table, the_cap_evicts_the_least_recently_active_flow) {
  flow_table t{opts(64)};
  for (uint16_t p = 0; p < 64; ++p)
    t.insert(p % 2 ? tcp(p) : udp(p), t0 + std::chrono::seconds{p});
  t.touch(*t.find(udp(0)), t0 + 100s); // flow 0 is active again
  std::vector<flow_key> evicted;
  auto* e = t.insert(tcp(1000), t0 + 101s,
                     [&](const flow_entry& v) { evicted.push_back(v.key); });
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0], tcp(1)) << "tcp 1 was idle longest";
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.size(), 64u);
  EXPECT_EQ(t.find(tcp(1)), nullptr);
}

// A long random mix of operations checked against std::map: catches broken
// probe chains after deletions, lost list links, stale peers.
TEST(flow_table, matches_a_simple_model_under_random_operations) {
  flow_table t{opts(512)};
  using model_key = std::tuple<uint8_t, uint16_t, uint32_t>;
  std::map<model_key, uint64_t> model; // -> id
  std::mt19937 rng{2024};
  auto key_of = [](const model_key& m) {
    flow_key k{std::get<0>(m),
               ep("10.0.0.1", std::get<1>(m)),
               {ipv4_address{std::get<2>(m)}, 443}};
    return k;
  };
  for (int i = 0; i < 200000; ++i) {
    model_key m{rng() % 2 ? proto_tcp : proto_udp,
                static_cast<uint16_t>(rng() % 300),
                0x0a000000u + static_cast<uint32_t>(rng() % 4)};
    auto k = key_of(m);
    auto* found = t.find(k);
    auto it = model.find(m);
    ASSERT_EQ(found != nullptr, it != model.end()) << "op " << i;
    if (found) {
      ASSERT_EQ(found->id, it->second);
      if (found->key.protocol == proto_tcp) {
        ASSERT_EQ(t.find_by_listener_peer(found->listener_peer), found);
      }
      if (rng() % 3 == 0) {
        t.erase(*found);
        model.erase(it);
      } else {
        t.touch(*found, t0);
      }
    } else if (model.size() < 512) {
      auto* e = t.insert(k, t0);
      ASSERT_NE(e, nullptr);
      model[m] = e->id;
    }
    ASSERT_EQ(t.size(), model.size());
  }
}

TEST(flow_table, steady_state_operations_allocate_nothing) {
  flow_table t{opts(10000)};
  for (uint16_t p = 0; p < 5000; ++p)
    t.insert(tcp(p), t0);
  drover::test::allocation_counter allocations;
  for (int round = 0; round < 20; ++round) {
    for (uint16_t p = 0; p < 5000; ++p) {
      auto* e = t.find(tcp(p));
      t.touch(*e, t0 + std::chrono::seconds{round});
      t.find_by_listener_peer(e->listener_peer);
    }
    for (uint16_t p = 5000; p < 5500; ++p)
      t.insert(udp(p), t0 + std::chrono::seconds{round});
    for (uint16_t p = 5000; p < 5500; ++p)
      t.erase(*t.find(udp(p)));
    t.sweep(t0 + std::chrono::seconds{round}, [](const flow_entry&) {});
  }
  EXPECT_EQ(allocations.count(), 0u);
}

TEST(flow_table, closing_flows_linger_briefly) {
  flow_table t{opts()};
  auto* e = t.insert(tcp(40000), t0);
  t.insert(tcp(40001), t0);
  t.mark_closing(*e, t0 + 1s);
  EXPECT_TRUE(e->closing());
  t.touch(*e, t0 + 2s); // the final ACKs still pass
  EXPECT_TRUE(e->closing()) << "touching keeps it closing";
  size_t n = t.sweep(t0 + 7s - 1ns, [](const flow_entry&) {});
  EXPECT_EQ(n, 0u);
  n = t.sweep(t0 + 7s, [](const flow_entry&) {});
  EXPECT_EQ(n, 1u) << "gone 5 s after its last packet";
  EXPECT_EQ(t.find(tcp(40000)), nullptr);
  EXPECT_NE(t.find(tcp(40001)), nullptr);
}

TEST(flow_table, the_cap_fits_the_open_file_limit) {
  // No per-process limit (Windows): the configured cap stands.
  EXPECT_EQ(flows_within_descriptor_budget(16384, 0), 16384u);
  // 20000 descriptors, 512 kept back, 4 per flow.
  EXPECT_EQ(flows_within_descriptor_budget(16384, 20000), 4872u);
  // A generous limit keeps the configured cap.
  EXPECT_EQ(flows_within_descriptor_budget(16384, 1u << 20), 16384u);
  // A tiny limit still leaves a few flows rather than none.
  EXPECT_EQ(flows_within_descriptor_budget(16384, 100), 16u);
}
