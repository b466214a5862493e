// The supervisor's proxy check (actors/proxy_check): which recovery class
// each probe verdict is, and when the proxy's name is looked up again,
// with a scripted probe and lookup (no network).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actors/proxy_check.hpp"

using namespace drover;

namespace {

net::ipv4_address ip(const char* text) {
  return *net::parse_ipv4(text);
}

struct scripted {
  probe_verdict verdict = probe_verdict::ok;
  std::optional<net::ipv4_address> name_is;
  std::vector<std::string> calls;

  proxy_prober probe() {
    return [this](const probe_request& r) {
      calls.push_back("probe " + net::to_string(r.proxy.ip));
      probe_result result;
      result.verdict = verdict;
      result.reason = verdict == probe_verdict::ok ? "" : "it failed";
      return result;
    };
  }
  name_resolver resolve() {
    return [this](const std::string& host, std::string& error) {
      calls.push_back("resolve " + host);
      if (!name_is)
        error = "no such name";
      return name_is;
    };
  }
};

probe_request at(const char* address) {
  probe_request r;
  r.proxy = {ip(address), 1080};
  return r;
}

} // namespace

TEST(proxy_check, each_verdict_has_its_recovery_class) {
  struct row {
    probe_verdict verdict;
    failure_class expected;
  };
  for (auto [verdict, expected] : std::vector<row>{
           {probe_verdict::ok, failure_class::none},
           {probe_verdict::unreachable, failure_class::proxy_unreachable},
           {probe_verdict::path_failed, failure_class::proxy_unreachable},
           {probe_verdict::auth_rejected, failure_class::auth_rejected},
           {probe_verdict::not_socks5, failure_class::fatal}}) {
    probe_result r;
    r.verdict = verdict;
    r.reason = "why";
    auto c = to_proxy_check(r);
    EXPECT_EQ(c.failure, expected);
    EXPECT_EQ(c.ok, verdict == probe_verdict::ok);
    EXPECT_EQ(c.reason, "why");
  }
}

// A proxy that refuses UDP ASSOCIATE is usable: Active for TCP, with
// what it said about UDP for the Active event.
TEST(proxy_check, a_tcp_only_proxy_is_usable_without_udp) {
  probe_result r;
  r.verdict = probe_verdict::tcp_only;
  r.reason = "UDP ASSOCIATE: the proxy does not relay UDP";
  r.udp_refused = true;
  r.udp_detail = "proxy refused: command not supported";
  auto c = to_proxy_check(r);
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.failure, failure_class::none);
  EXPECT_FALSE(c.udp);
  EXPECT_EQ(c.udp_reason, "proxy refused: command not supported");
  probe_result full;
  full.verdict = probe_verdict::ok;
  EXPECT_TRUE(to_proxy_check(full).udp);
}

TEST(proxy_check, a_working_address_is_kept_without_a_lookup) {
  scripted s;
  s.name_is = ip("192.0.2.99");
  auto c = run_proxy_check(s.probe(), s.resolve(), at("192.0.2.1"),
                           "proxy.example");
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.proxy_ip, ip("192.0.2.1").value)
      << "a name with several addresses does not make it hop";
  EXPECT_EQ(s.calls, (std::vector<std::string>{"probe 192.0.2.1"}));
}

TEST(proxy_check, a_failed_address_looks_the_name_up_again) {
  scripted s;
  s.verdict = probe_verdict::unreachable;
  s.name_is = ip("192.0.2.7");
  auto c = run_proxy_check(s.probe(), s.resolve(), at("192.0.2.1"),
                           "proxy.example");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.failure, failure_class::proxy_unreachable);
  EXPECT_EQ(c.proxy_ip, ip("192.0.2.7").value) << "moved: restart onto it";
  EXPECT_EQ(s.calls, (std::vector<std::string>{"probe 192.0.2.1",
                                               "resolve proxy.example"}));
}

TEST(proxy_check, no_address_yet_is_looked_up_and_a_lost_name_is_named) {
  scripted s;
  s.name_is = ip("192.0.2.7");
  auto found
      = run_proxy_check(s.probe(), s.resolve(), at("0.0.0.0"), "proxy.example");
  EXPECT_EQ(found.proxy_ip, ip("192.0.2.7").value);
  EXPECT_EQ(s.calls, (std::vector<std::string>{"resolve proxy.example"}));
  s.name_is.reset();
  auto lost
      = run_proxy_check(s.probe(), s.resolve(), at("0.0.0.0"), "proxy.example");
  EXPECT_FALSE(lost.ok);
  EXPECT_EQ(lost.failure, failure_class::proxy_unreachable);
  EXPECT_EQ(lost.reason, "cannot find the proxy proxy.example: no such name");
}

// The supervisor's check asks whether the proxy reads a greeting and a
// request sent together, and passes the answer on (to the relay); `drover
// check` does not ask.
TEST(proxy_check, the_check_asks_about_pipelining_and_passes_the_answer_on) {
  config::proxy_settings settings;
  EXPECT_TRUE(
      proxy_check_request(settings, {ip("192.0.2.1"), 1080}).try_pipelining);
  for (bool reads_both : {false, true}) {
    probe_result r;
    r.pipelining = reads_both;
    EXPECT_EQ(to_proxy_check(r).pipelining, reads_both);
  }
}
