// The kernel's fence against the real kernel (root), in network namespaces
// the test makes (target_marker_world.hpp): what a target's and a blocked
// program's sockets may send, and where (loopback, the LAN's broadcasts,
// never IPv6), and two engines' fences in two namespaces.

#include "tests/platform/target_marker_world.hpp"

using namespace drover::platform::linux_port;
using namespace drover::test::target_marker_world;

// A blocked program reaches loopback and nothing else.
TEST_F(target_marker_test, the_fence_keeps_a_blocked_program_to_loopback) {
  attach();
  drover::config::app_rule blocked;
  blocked.apps = {"dvr-blocked"};
  blocked.action = drover::config::rule_action::block;
  rules({blocked});
  child server{{"ip", "netns", "exec", net->b.name(), DROVER_PEER, "udp-echo",
                net->ip_b, "7"}};
  ASSERT_TRUE(server.wait_for_output("listening", 10s));
  child local{{"ip", "netns", "exec", net->a.name(), DROVER_PEER, "udp-echo",
               "127.0.0.1", "7"}};
  ASSERT_TRUE(local.wait_for_output("listening", 10s));
  auto path = program("dvr-blocked");
  // Skipped ranges are a target's way out, not a blocked program's.
  drover::net::capture::exclusions skip;
  skip.extra = {*drover::net::parse_ipv4_cidr(net->ip_b)};
  std::string error;
  ASSERT_TRUE(marker->set_skip(skip, {}, error)) << error;
  auto out = run({path, "udp-client", net->ip_b, "7", "1"});
  EXPECT_NE(out.find("send: Operation not permitted"), std::string::npos)
      << "refused at once: " << out;
  EXPECT_NE(run({path, "udp-client", "127.0.0.1", "7", "1"}).find("ok 1"),
            std::string::npos);
}

// Drover relays IPv4 only: a target's or a blocked program's IPv6 to
// anywhere but this machine (or link-local, multicast) is refused at
// connect() or sendto(), so the program falls back to IPv4 at once instead
// of waiting for the fence's silence; counted; others' IPv6 untouched.
TEST_F(target_marker_test, a_targets_and_a_blocked_programs_ipv6_is_refused) {
  attach();
  drover::config::app_rule target;
  target.apps = {"dvr-target6"};
  drover::config::app_rule blocked;
  blocked.apps = {"dvr-blocked6"};
  blocked.action = drover::config::rule_action::block;
  rules({target, blocked});
  auto before = marker->counters().ipv6_refused;
  for (auto name : {"dvr-target6", "dvr-blocked6"}) {
    auto path = program(name);
    auto out = run({path, "tcp6", "2001:db8::7", "7"});
    EXPECT_NE(out.find("refused at once: Operation not permitted"),
              std::string::npos)
        << name << ": " << out;
    out = run({path, "udp6-send", "2001:db8::7", "7"});
    EXPECT_NE(out.find("send: Operation not permitted"), std::string::npos)
        << name << ": " << out;
    // This machine's own address: loopback, answered (a closed port).
    out = run({path, "tcp6", "::1", "7"});
    EXPECT_NE(out.find("refused\n"), std::string::npos) << name << ": " << out;
    EXPECT_EQ(out.find("at once"), std::string::npos) << name << ": " << out;
  }
  // A target's link-local IPv6 is not refused (a blocked program's is
  // fenced: it reaches loopback only).
  auto out = run({program("dvr-target6"), "udp6-send", "fe80::1", "7"});
  EXPECT_EQ(out.find("Operation not permitted"), std::string::npos) << out;
  EXPECT_EQ(marker->counters().ipv6_refused, before + 4);
  // Not a target: the kernel's own answer (no route here).
  out = run({program("dvr-other6"), "tcp6", "2001:db8::7", "7"});
  EXPECT_EQ(out.find("Operation not permitted"), std::string::npos) << out;
  EXPECT_EQ(marker->counters().ipv6_refused, before + 4);
}

// The fence: a target's packets leave for loopback and the skipped
// destinations only; everything else is dropped in the kernel.
TEST_F(target_marker_test, the_fence_keeps_a_target_in) {
  attach();
  targets({{"dvr-target", false}}, {0});
  child server{{"ip", "netns", "exec", net->b.name(), DROVER_PEER, "udp-echo",
                net->ip_b, "7"}};
  ASSERT_TRUE(server.wait_for_output("listening", 10s));
  auto before = marker->counters().packets_fenced;
  auto target = program("dvr-target");
  auto other = program("dvr-other");
  EXPECT_NE(run({other, "udp-client", net->ip_b, "7", "1"}).find("ok 1"),
            std::string::npos)
      << "not a target: direct";
  auto out = run({target, "burst", net->ip_b, "7"});
  EXPECT_NE(out.find("burst timeout"), std::string::npos) << out;
  EXPECT_GE(marker->counters().packets_fenced, before + 2) << "SYN and UDP";
  // Loopback is where the capture sends redirected connections.
  child local{{"ip", "netns", "exec", net->a.name(), DROVER_PEER, "udp-echo",
               "127.0.0.1", "7"}};
  ASSERT_TRUE(local.wait_for_output("listening", 10s));
  EXPECT_NE(run({target, "udp-client", "127.0.0.1", "7", "1"}).find("ok 1"),
            std::string::npos);
  // A destination the capture skips.
  drover::net::capture::exclusions skip;
  skip.extra = {*drover::net::parse_ipv4_cidr(net->ip_b)};
  std::string error;
  ASSERT_TRUE(marker->set_skip(skip, {}, error)) << error;
  EXPECT_NE(run({target, "udp-client", net->ip_b, "7", "1"}).find("ok 1"),
            std::string::npos)
      << "skipped: direct on purpose";
}

// LAN discovery: a target's datagram to its subnet's broadcast address may
// leave once the fence has the interfaces' broadcast addresses (the rules
// leave it alone by the kernel's own list); without them it is dropped.
TEST_F(target_marker_test, the_fence_lets_a_targets_lan_broadcast_out) {
  attach();
  targets({{"dvr-target", false}}, {0});
  child lan{{"ip", "netns", "exec", net->b.name(), DROVER_PEER, "udp-echo",
             "0.0.0.0", "7"}};
  ASSERT_TRUE(lan.wait_for_output("listening", 10s));
  auto target = program("dvr-target");
  auto subnet = net->ip_a.substr(0, net->ip_a.rfind('.')) + ".255";
  std::string error;
  ASSERT_TRUE(marker->set_skip({}, {}, error)) << error;
  auto out = run({target, "udp-broadcast", subnet, "7"});
  EXPECT_NE(out.find("fail: Operation not permitted"), std::string::npos)
      << "fenced: " << out;
  auto broadcasts = drover::test::inside(net->a, [] {
    return drover::net::capture::subnet_broadcasts(interface_addresses());
  });
  std::string listed;
  for (auto b : broadcasts)
    listed += drover::net::to_string(b) + " ";
  EXPECT_EQ(listed, subnet + " ");
  // Hundreds of networks: as many as fit, and the capture still starts.
  std::vector<drover::net::ipv4_address> many;
  for (uint32_t i = 0; i < 600; ++i)
    many.push_back({0x0a000000u | (i << 8) | 0xff});
  EXPECT_TRUE(marker->set_skip({}, many, error)) << error;
  ASSERT_TRUE(marker->set_skip({}, broadcasts, error)) << error;
  out = run({target, "udp-broadcast", subnet, "7"});
  EXPECT_NE(
      out.find("answered by " + net->ip_b + ", seen from " + net->ip_a + ":"),
      std::string::npos)
      << out;
}

// Two engines in two namespaces at once (a container's and the host's; or
// two tests in parallel): their marks differ, so neither's fence drops
// what the other's capture lets out. (Namespaces made one after the other
// used to share marks: the other's fence, without this one's [skip],
// dropped a skipped destination's datagrams.)
TEST_F(target_marker_test, engines_in_two_namespaces_keep_to_their_own) {
  attach();
  targets({{"dvr-target", false}}, {0});
  drover::test::veth_pair next_door{"mn", 78};
  std::string error;
  marker_settings s;
  s.cgroup_root = cgroup_root();
  auto other = drover::test::inside(
      next_door.a, [&] { return target_marker::attach(s, error); });
  ASSERT_TRUE(other) << error;
  EXPECT_NE(other->marks().target, marker->marks().target);
  EXPECT_NE(other->marks().pass, marker->marks().pass);
  EXPECT_NE(other->marks().block, marker->marks().block);
  // Its rules name the same program; its [skip] has nothing.
  std::vector<std::string> missing;
  drover::config::app_rule r;
  r.apps = {"dvr-target"};
  ASSERT_TRUE(other->set_rules(
      compile_rules({r}, drover::config::not_proxying::block, {}, missing),
      error))
      << error;
  ASSERT_TRUE(other->set_users({0}, error)) << error;
  child server{{"ip", "netns", "exec", net->b.name(), DROVER_PEER, "udp-echo",
                net->ip_b, "7"}};
  ASSERT_TRUE(server.wait_for_output("listening", 10s));
  drover::net::capture::exclusions skip;
  skip.extra = {*drover::net::parse_ipv4_cidr(net->ip_b)};
  ASSERT_TRUE(marker->set_skip(skip, {}, error)) << error;
  auto target = program("dvr-target");
  auto before = other->counters().packets_fenced;
  auto out = run({target, "udp-client", net->ip_b, "7", "3"});
  EXPECT_NE(out.find("ok 3"), std::string::npos)
      << "skipped here: let out, whatever the other engine's fence says; "
      << out;
  EXPECT_EQ(other->counters().packets_fenced, before);
}
