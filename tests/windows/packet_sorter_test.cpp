// The Windows packet sorter alone (packet_sorter.hpp), on scripted socket
// events and packets: what it hands the engine and what it lets out.

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "actors/platform/lan_broadcasts.hpp"
#include "actors/platform/target_set.hpp"
#include "actors/platform/windows/packet_sorter.hpp"
#include "net/packet.hpp"
#include "tests/windows/windivert_addresses.hpp"

using namespace drover;
namespace wd = drover::platform::windivert;
using test::outbound_address;
using test::socket_event;

namespace {

constexpr uint32_t target_pid = 4242;

// Where the sorter's decisions go: recorded.
struct recording_sink final : wd::packet_sink {
  std::vector<std::vector<uint8_t>> delivered, passed;
  bool has_room(uint32_t) const override { return true; }
  void deliver(const uint8_t* data, uint32_t length, const wd::address&,
               const captured_packet&) override {
    delivered.emplace_back(data, data + length);
  }
  void pass(const uint8_t* data, uint32_t length, const wd::address&) override {
    passed.emplace_back(data, data + length);
  }
};

std::vector<uint8_t> datagram(uint16_t from_port, const char* to,
                              uint16_t port) {
  std::vector<uint8_t> p(200);
  const uint8_t payload[12] = {'w', 'h', 'o'};
  p.resize(net::build_ipv4_udp(
      p.data(), p.size(), {*net::parse_ipv4("192.168.1.20"), from_port},
      {*net::parse_ipv4(to), port}, payload, sizeof payload, 9));
  return p;
}

} // namespace

// A target's datagram to one of the subnets' broadcast addresses (LAN
// discovery) goes out to the LAN: the filter left out the broadcasts known
// when the capture opened, and this is a network joined since. The list
// is the guard's, followed as it changes; the same socket's datagram to a
// server is the engine's.
TEST(packet_sorter, a_targets_lan_broadcast_goes_out_to_the_lan) {
  auto targets = std::make_shared<platform::target_set>();
  targets->add(target_pid);
  auto lan = std::make_shared<platform::lan_broadcasts>();
  wd::packet_sorter sorter{{net::nat_shape::loopback, 15001},
                           std::chrono::milliseconds{150},
                           16,
                           targets,
                           lan};
  auto now = net::flow_clock::now();
  auto event
      = socket_event(wd::event_socket_bind, target_pid, 50020, net::proto_udp);
  sorter.on_socket_events(&event, 1, now);
  recording_sink out;

  auto discovery = datagram(50020, "10.212.0.255", 5355);
  ASSERT_FALSE(discovery.empty());
  sorter.sort(discovery.data(), static_cast<uint32_t>(discovery.size()),
              outbound_address(), now, out);
  ASSERT_EQ(out.delivered.size(), 1u)
      << "a network not known yet: it may be a server's address";
  EXPECT_TRUE(out.passed.empty());

  lan->publish({*net::parse_ipv4("10.211.0.255"),
                *net::parse_ipv4("10.212.0.255")}); // the network joined
  sorter.sort(discovery.data(), static_cast<uint32_t>(discovery.size()),
              outbound_address(), now, out);
  ASSERT_EQ(out.passed.size(), 1u) << "not let out to the LAN";
  EXPECT_EQ(out.passed[0], discovery) << "changed on its way out";
  EXPECT_EQ(out.delivered.size(), 1u);
  EXPECT_EQ(sorter.stats().lan_broadcasts, 1u);

  auto voice = datagram(50020, "35.214.1.2", 50003);
  sorter.sort(voice.data(), static_cast<uint32_t>(voice.size()),
              outbound_address(), now, out);
  EXPECT_EQ(out.delivered.size(), 2u) << "a datagram to a server went out";
  EXPECT_EQ(out.passed.size(), 1u);

  lan->publish({*net::parse_ipv4("10.211.0.255")}); // that network left
  sorter.sort(discovery.data(), static_cast<uint32_t>(discovery.size()),
              outbound_address(), now, out);
  EXPECT_EQ(out.delivered.size(), 3u) << "a network left is still let out";
  EXPECT_EQ(out.passed.size(), 1u);
}
