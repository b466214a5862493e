// What the watchdog asks of the kernel, in namespaces of the test's own:
// whether the firewall or the policy routing changed (announced by the time
// the command that made the change returns), and whether the policy route
// TPROXY needs is whole.
#include <gtest/gtest.h>

#include <memory>

#include "actors/platform/linux/system.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"

using namespace drover::platform::linux_port;
using namespace drover::test;

TEST(ruleset_changes, the_kernel_announces_firewall_and_route_changes) {
  if (!is_root() || !have_command("iptables") || !have_command("ip"))
    GTEST_SKIP() << "needs root, iptables and iproute2";
  netns ns{"rsc"};
  auto changes = inside(ns, [] { return std::make_unique<ruleset_changes>(); });
  if (!changes->live())
    GTEST_SKIP() << "iptables is not the nftables variant: every check reads";
  changes->changed(); // whatever setting the namespace up announced
  EXPECT_FALSE(changes->changed()) << "nothing happened since";
  struct step {
    const char* what;
    std::string command;
  };
  for (auto& s : std::vector<step>{
           {"a chain", "iptables -t raw -N SOMEONE_ELSE"},
           {"a rule", "iptables -t mangle -A OUTPUT -p udp -j ACCEPT"},
           {"a flush", "iptables -t mangle -F"},
           {"IPv6", "ip6tables -t raw -A OUTPUT -j ACCEPT"},
           {"a policy rule", "ip rule add fwmark 0x77 lookup 77 priority 77"},
           {"a route", "ip route add local 0.0.0.0/0 dev lo table 77"},
           {"a flushed table", "ip route flush table 77"},
           {"a deleted rule", "ip rule del priority 77"}}) {
    ASSERT_EQ(sh(ns.exec(s.command)), 0) << s.command;
    EXPECT_TRUE(changes->changed()) << s.what;
    EXPECT_FALSE(changes->changed()) << s.what << ": read once";
  }
  // Reading the ruleset is no change.
  ASSERT_EQ(sh(ns.exec("iptables-save >/dev/null")), 0);
  EXPECT_FALSE(changes->changed());
}

// The watchdog's check of the policy route. It once connected a UDP socket
// with the mark instead; this kernel (6.18) routes that connect() without
// the mark, so the route always looked gone and was put back each second.
TEST(marked_route_is_local, only_with_the_rule_and_the_local_route) {
  if (!is_root() || !have_command("ip"))
    GTEST_SKIP() << "needs root and iproute2";
  netns ns{"mrl"};
  constexpr uint32_t mark = 0x44520002, table = 17490;
  auto local = [&] {
    return inside(ns, [&] { return marked_route_is_local(mark, table); });
  };
  ASSERT_EQ(sh(ns.exec("ip link set lo up")), 0);
  EXPECT_FALSE(local()) << "neither the rule nor the route";
  ASSERT_EQ(sh(ns.exec("ip route add local 0.0.0.0/0 dev lo table 17490")), 0);
  EXPECT_FALSE(local()) << "the route without the rule";
  ASSERT_EQ(
      sh(ns.exec("ip rule add fwmark 0x44520002 lookup 17490 priority 17490")),
      0);
  EXPECT_TRUE(local());
  EXPECT_FALSE(inside(ns, [&] {
    return marked_route_is_local(mark + 1, table);
  })) << "another mark";
  ASSERT_EQ(sh(ns.exec("ip route flush table 17490")), 0);
  EXPECT_FALSE(local()) << "the rule without the route";
  ASSERT_EQ(sh(ns.exec("ip route add local 0.0.0.0/0 dev lo table 17490")), 0);
  EXPECT_TRUE(local());
  ASSERT_EQ(sh(ns.exec("ip rule del priority 17490")), 0);
  EXPECT_FALSE(local()) << "the rule deleted";
}
