#pragma once

// The engine state machine's test helpers: what came out of an input
// (kinds, retry delays, what was said), the usual check results, and a
// machine with one proxy. Shared by engine_machine_test.cpp (one proxy,
// row by row) and engine_machine_proxies_test.cpp (several proxies).

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "messages/engine_machine.hpp"

namespace drover::test::engine_machine_world {

using namespace std::chrono_literals;

using kinds = std::vector<command_kind>;

inline kinds kinds_of(const engine_commands& cs) {
  kinds out;
  for (auto& c : cs)
    out.push_back(c.kind);
  return out;
}

inline const engine_command* find(const engine_commands& cs, command_kind k) {
  for (auto& c : cs)
    if (c.kind == k)
      return &c;
  return nullptr;
}

// The delay of the retry timer asked for; -1 ms when none was.
inline std::chrono::milliseconds retry_delay(const engine_commands& cs) {
  auto c = find(cs, command_kind::retry_after);
  return c ? c->delay : std::chrono::milliseconds{-1};
}

inline uint64_t retry_operation(const engine_commands& cs) {
  auto c = find(cs, command_kind::retry_after);
  return c ? c->operation : 0;
}

inline std::vector<std::string> said(const engine_commands& cs) {
  std::vector<std::string> out;
  for (auto& c : cs)
    if (c.kind == command_kind::publish)
      out.push_back(c.event.reason);
  return out;
}

inline check_result ok() {
  check_result r;
  r.ok = true;
  return r;
}

// A proxy without UDP ASSOCIATE.
inline check_result tcp_only() {
  auto r = ok();
  r.udp = false;
  r.udp_reason = "proxy refused: command not supported";
  return r;
}

inline check_result unreachable() {
  check_result r;
  r.failure = failure_class::proxy_unreachable;
  r.reason = "TCP connect: Connection refused";
  return r;
}

constexpr uint32_t proxy_ip = 0x0a000001;

inline config_change new_proxy(std::string host, uint16_t port) {
  config_change c;
  c.proxy = true;
  c.proxies = {proxy_ref{{}, std::move(host), port, false}};
  return c;
}

struct machine_test : ::testing::Test {
  engine_machine m{recovery_timing{}, "proxy.test", 1080};
  engine_machine::time_point now{};

  // Idle -> Active.
  void activate() {
    m.on_start();
    m.on_parts_started(proxy_ip);
    m.on_check(ok(), now);
    ASSERT_EQ(m.phase(), engine_phase::active);
  }
};

} // namespace drover::test::engine_machine_world
