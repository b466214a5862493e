#pragma once

// A capture session standing in for NFQUEUE in the actor tests: verdicts and
// injected packets are recorded; nothing is ever received.

#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "actors/platform/capture.hpp"

namespace drover::test {

using platform::verdict_kind;

struct recorded_verdict {
  uint32_t id;
  verdict_kind kind;
  std::vector<uint8_t> packet;
};

// Records verdicts; receive() is never called (no divert-reader here).
class fake_port : public platform::packet_port {
public:
  std::vector<recorded_verdict> verdicts;
  receive_status receive(packet_batch_buffer&) override {
    return receive_status::stopped;
  }
  std::shared_ptr<packet_batch_buffer> new_batch() const override {
    return std::make_shared<packet_batch_buffer>(1u << 18, 32);
  }
  std::error_code send_verdicts(const platform::verdict* v, size_t n) override {
    for (size_t i = 0; i < n; ++i)
      verdicts.push_back(
          {v[i].id, v[i].kind,
           v[i].kind == verdict_kind::accept_modified
               ? std::vector<uint8_t>(v[i].data, v[i].data + v[i].length)
               : std::vector<uint8_t>{}});
    return {};
  }
  void stop() override {}
  platform::port_counters counters() const override { return {}; }
  std::string last_error() const override { return {}; }
};

class fake_injector : public platform::packet_injector {
public:
  std::vector<std::vector<uint8_t>> injected;
  std::error_code inject(const uint8_t* p, size_t n) override {
    injected.emplace_back(p, p + n);
    return {};
  }
};

// A guard that holds nothing; counts repairs the test asks it to report.
class fake_guard : public platform::capture_guard {
public:
  std::string to_repair;   // what the next repair() reports as put back
  std::string fail_repair; // set: every repair() fails with this
  int released = 0;
  std::vector<config::app_rule> rules;
  /// Every set_proxying(proxy, tcp, udp), in order.
  std::vector<std::tuple<uint32_t, bool, bool>> proxying;
  bool set_targets(const platform::target_selection& t, std::string&) override {
    rules = t.rules;
    return true;
  }
  void set_proxying(uint32_t proxy, bool tcp, bool udp) override {
    proxying.emplace_back(proxy, tcp, udp);
  }
  std::string repair(std::string& error) override {
    error = fail_repair;
    return std::exchange(to_repair, std::string{});
  }
  platform::guard_counters counters() const override { return {}; }
  std::string fail_release; // what release() says the OS refused
  std::string release() override {
    ++released;
    return fail_release;
  }
  std::string description() const override { return "fake guard"; }
};

class fake_capture : public platform::capture_session {
public:
  fake_capture() = default;
  /// `destroyed` counts the sessions destroyed (their queue closed).
  explicit fake_capture(std::shared_ptr<int> destroyed)
      : destroyed_(std::move(destroyed)) {}
  ~fake_capture() override {
    if (destroyed_)
      ++*destroyed_;
  }
  fake_port port_;
  fake_injector injector_;
  platform::packet_port& port() override { return port_; }
  platform::packet_injector& injector() override { return injector_; }
  platform::take_up add_target(uint32_t, uint64_t, std::string&) override {
    return platform::take_up::taken;
  }
  platform::take_up block_target(uint32_t, uint64_t, std::string&) override {
    return platform::take_up::taken;
  }
  bool is_target(uint32_t) const override { return true; }
  void forget_target(uint32_t) override {}
  long spawn_target(const std::vector<std::string>&, uint32_t,
                    std::string&) override {
    return -1;
  }
  bool join_target(uint32_t pid, uint32_t, uint32_t, uint32_t proxy,
                   std::string&) override {
    joined.push_back(pid);
    joined_proxies.push_back(proxy);
    return true;
  }
  std::vector<uint32_t> joined;
  std::vector<uint32_t> joined_proxies;
  std::string description() const override { return "fake"; }

private:
  std::shared_ptr<int> destroyed_;
};

} // namespace drover::test
