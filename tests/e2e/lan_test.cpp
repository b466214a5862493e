// A target's own LAN, end to end: one engine, the real kernel path, a real
// dante. LAN discovery (a datagram to the subnet's broadcast address) is
// the LAN's, not the proxy's: the proxy's network is not the user's, and
// dante would not broadcast it anyway.

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

// Target `named` (running in the app namespace under an engine) sends a
// broadcast to `address` until an answer shows it came from `from` itself
// (at most 10 s: the engine hears of a new network within a second); the
// last output.
std::string broadcast_until_answered(world& w, const fs::path& named,
                                     const std::string& address,
                                     const std::string& port,
                                     const std::string& from) {
  std::string out;
  drover::test::eventually(
      [&] {
        child c{{"ip", "netns", "exec", w.app.name(), named.string(),
                 "udp-broadcast", address, port}};
        c.wait(10s);
        out = c.output();
        return out.find("seen from " + from + ":") != std::string::npos;
      },
      10s, 200ms);
  return out;
}

} // namespace

TEST_F(engine_e2e, a_targets_lan_broadcast_stays_on_the_lan) {
  // Something on the LAN that answers broadcasts (the proxy's namespace is
  // the app's LAN here: 10.210.0.0/24).
  child lan{{"ip", "netns", "exec", w->remote.name(), DROVER_PEER, "udp-echo",
             "0.0.0.0", "5355"}};
  ASSERT_TRUE(lan.wait_for_output("listening", 10s));
  auto [code, out] = w->drover_run({"udp-broadcast", "10.210.0.255", "5355"});
  EXPECT_EQ(code, 0) << out << w->log();
  EXPECT_NE(out.find("seen from " + app_ip + ":"), std::string::npos)
      << "from the app itself, not through the proxy: " << out;
  // The same where UDP is queued (a kernel without TPROXY): the queue
  // never sees it.
  w->extra_env.push_back("DROVER_TEST_QUEUE_UDP=1");
  std::tie(code, out)
      = w->drover_run({"udp-broadcast", "10.210.0.255", "5355"});
  EXPECT_NE(out.find("seen from " + app_ip + ":"), std::string::npos)
      << "queued path: " << out << w->log();
  // And the same program's datagrams to a server still go through dante.
  std::tie(code, out)
      = w->drover_run({"udp-client", server_ip, "7", "1", "unconnected"});
  EXPECT_NE(out.find("seen " + proxy_ip + ":"), std::string::npos) << out;
}

// A network joined while Drover runs (DHCP on another Wi-Fi): its
// broadcasts reach it too, once the engine has heard of the new address
// (the kernel announces it; the watchdog reads that each second).
TEST_F(engine_e2e, a_network_joined_later_gets_its_broadcasts_too) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-lan-target", named);
  child lan{{"ip", "netns", "exec", w->remote.name(), DROVER_PEER, "udp-echo",
             "0.0.0.0", "5356"}};
  ASSERT_TRUE(lan.wait_for_output("listening", 10s));
  ASSERT_EQ(sh("ip -n " + w->app.name() + " addr add 10.220.0.1/24 dev veth0"),
            0);
  ASSERT_EQ(
      sh("ip -n " + w->remote.name() + " addr add 10.220.0.2/24 dev veth1"), 0);
  auto out = broadcast_until_answered(*w, named, "10.220.0.255", "5356",
                                      "10.220.0.1");
  EXPECT_NE(out.find("seen from 10.220.0.1:"), std::string::npos)
      << out << w->log();
}

// An interface that was down when the engine started (a cable plugged in
// later): bringing it up announces no address, only the link.
TEST_F(engine_e2e, an_interface_brought_up_later_gets_its_broadcasts_too) {
  auto app = "ip -n " + w->app.name() + " ";
  auto remote = "ip -n " + w->remote.name() + " ";
  ASSERT_EQ(sh(app + "link add veth2 type veth peer name veth3 netns "
               + w->remote.name()),
            0);
  ASSERT_EQ(sh(app + "addr add 10.221.0.1/24 dev veth2"), 0);
  ASSERT_EQ(sh(remote + "addr add 10.221.0.2/24 dev veth3"), 0);
  ASSERT_EQ(sh(remote + "link set veth3 up"), 0);
  fs::path named;
  auto engine = w->headless_with_target("e2e-link-target", named);
  child lan{{"ip", "netns", "exec", w->remote.name(), DROVER_PEER, "udp-echo",
             "0.0.0.0", "5357"}};
  ASSERT_TRUE(lan.wait_for_output("listening", 10s));
  ASSERT_EQ(sh(app + "link set veth2 up"), 0);
  auto out = broadcast_until_answered(*w, named, "10.221.0.255", "5357",
                                      "10.221.0.1");
  EXPECT_NE(out.find("seen from 10.221.0.1:"), std::string::npos)
      << out << w->log();
}
