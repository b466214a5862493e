// Drover's WinDivert filters, checked as WinDivert 2.2 checks them
// (tests/support/windivert_filter: the documented language, per layer, at
// most 256 tests), pinned to what WinDivert 2.2.2's own compiler and
// WinDivertHelperEvalFilter were seen to do with them
// (../shared/docs/windivert-facts.md, "Checked against WinDivert 2.2.2's
// own source"): fields refused for their layer, the [skip] ranges that fit,
// and which packets the NETWORK filter diverts.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/capture_rules.hpp"
#include "tests/support/windivert_filter.hpp"

using namespace drover;
using namespace drover::test::windivert_filter;

namespace {

std::string error_of(const std::string& text, layer l) {
  std::string error;
  size_t at = 0;
  auto f = filter::compile(text, l, error, at);
  return f ? std::string{"ok"} : error;
}

filter compiled(const std::string& text, layer l) {
  std::string error;
  size_t at = 0;
  auto f = filter::compile(text, l, error, at);
  EXPECT_TRUE(f) << error << " at " << at << " in " << text;
  return std::move(*f);
}

constexpr uint16_t listener_port = 34567;

net::capture::windivert_params drovers_params(size_t extra_ranges) {
  net::capture::windivert_params p;
  p.skip.proxy = *net::parse_ipv4("192.0.2.1");
  p.listener.port = listener_port;
  for (size_t i = 0; i < extra_ranges; ++i)
    p.skip.extra.push_back(
        *net::parse_ipv4_cidr("10." + std::to_string(i) + ".0.0/16"));
  return p;
}

// An IPv4 packet: TCP (with `flags`) or UDP, from src:sport to dst:dport.
std::string ipv4_packet(std::array<uint8_t, 4> src, uint16_t sport,
                        std::array<uint8_t, 4> dst, uint16_t dport, bool tcp,
                        uint8_t flags = 0x02) {
  size_t l4 = tcp ? 20 : 8 + 4;
  std::string p(20 + l4, '\0');
  auto* b = reinterpret_cast<uint8_t*>(p.data());
  b[0] = 0x45;
  b[2] = static_cast<uint8_t>(p.size() >> 8);
  b[3] = static_cast<uint8_t>(p.size());
  b[8] = 64;
  b[9] = tcp ? 6 : 17;
  std::copy(src.begin(), src.end(), b + 12);
  std::copy(dst.begin(), dst.end(), b + 16);
  b[20] = static_cast<uint8_t>(sport >> 8);
  b[21] = static_cast<uint8_t>(sport);
  b[22] = static_cast<uint8_t>(dport >> 8);
  b[23] = static_cast<uint8_t>(dport);
  if (tcp) {
    b[32] = 0x50;
    b[33] = flags;
  } else {
    b[25] = static_cast<uint8_t>(l4);
  }
  return p;
}

const std::array<uint8_t, 4> lan{192, 168, 1, 20}; // the app's own address

} // namespace

TEST(windivert_filter, a_field_outside_its_layer_is_a_bad_token_for_it) {
  EXPECT_EQ(error_of("processId == 1234", layer::network),
            "bad token for layer");
  EXPECT_EQ(error_of("tcp and tcp.DstPort == 443", layer::socket),
            "bad token for layer");
  EXPECT_EQ(error_of("processId == 1234", layer::socket), "ok");
  EXPECT_EQ(error_of("tcp.DstPort == 443", layer::network), "ok");
  EXPECT_EQ(error_of("ip.Nonsense == 1", layer::network), "bad token");
  EXPECT_EQ(error_of("tcp and", layer::network), "parse error");
  EXPECT_EQ(error_of("(tcp", layer::network), "parse error");
  EXPECT_EQ(error_of("ip.DstAddr == 1.2.3", layer::network), "bad token");
  EXPECT_EQ(error_of("false", layer::network), "ok")
      << "a send-only handle's filter";
  EXPECT_EQ(error_of("outbound ? tcp : udp", layer::network), "ok");
}

TEST(windivert_filter, drovers_filters_compile_for_their_layers) {
  auto network = net::capture::windivert_network_filter(drovers_params(0));
  auto f = compiled(network, layer::network);
  EXPECT_EQ(f.tests(), 27u);
  EXPECT_EQ(error_of(network, layer::socket), "bad token for layer")
      << "packet fields are not the SOCKET layer's";
  compiled(net::capture::windivert_socket_filter(), layer::socket);
  EXPECT_EQ(error_of(net::capture::windivert_socket_filter(), layer::network),
            "bad token for layer")
      << "event is not the NETWORK layer's";
}

TEST(windivert_filter, skip_ranges_fit_up_to_114_of_them) {
  auto fits
      = compiled(net::capture::windivert_network_filter(drovers_params(114)),
                 layer::network);
  EXPECT_EQ(fits.tests(), 255u);
  EXPECT_EQ(
      error_of(net::capture::windivert_network_filter(drovers_params(115)),
               layer::network),
      "too long")
      << "257 tests";
  // Drover's own check of the filter agrees (it refuses the config first).
  EXPECT_EQ(net::capture::check_windivert_filter(
                net::capture::windivert_network_filter(drovers_params(114))),
            "");
  EXPECT_NE(net::capture::check_windivert_filter(
                net::capture::windivert_network_filter(drovers_params(115))),
            "");
}

TEST(windivert_filter, the_network_filter_diverts_what_it_should_and_no_more) {
  auto f = compiled(net::capture::windivert_network_filter(drovers_params(3)),
                    layer::network);
  auto diverted = [&](const std::string& packet, bool loopback = false,
                      bool impostor = false) {
    packet_context c;
    c.packet = packet;
    c.outbound = true;
    c.loopback = loopback;
    c.impostor = impostor;
    return f.matches(c);
  };
  // A target's SYN, voice UDP, the listener's loopback SYN-ACK.
  EXPECT_TRUE(
      diverted(ipv4_packet(lan, 50000, {162, 159, 128, 233}, 443, true)));
  EXPECT_TRUE(diverted(ipv4_packet(lan, 50001, {35, 214, 1, 2}, 50003, false)));
  EXPECT_TRUE(diverted(ipv4_packet({127, 0, 0, 1}, listener_port,
                                   {127, 0, 0, 1}, 50000, true, 0x12),
                       true));
  // Not DHCP, the proxy, link-local, multicast, a [skip] range, an app's
  // packet to its own LAN address (loopback), a SYN another driver
  // injected (Impostor).
  EXPECT_FALSE(
      diverted(ipv4_packet({0, 0, 0, 0}, 68, {255, 255, 255, 255}, 67, false)));
  EXPECT_FALSE(diverted(ipv4_packet(lan, 50002, {192, 0, 2, 1}, 1080, true)));
  EXPECT_FALSE(diverted(ipv4_packet(lan, 50003, {169, 254, 3, 4}, 80, true)));
  EXPECT_FALSE(
      diverted(ipv4_packet(lan, 50004, {224, 0, 0, 251}, 5353, false)));
  EXPECT_FALSE(diverted(ipv4_packet(lan, 50005, {10, 2, 7, 7}, 443, true)));
  EXPECT_FALSE(diverted(ipv4_packet(lan, 50006, lan, 8080, true), true));
  EXPECT_FALSE(diverted(
      ipv4_packet(lan, 50007, {162, 159, 128, 233}, 443, true), false, true));
  // Inbound packets are never the NETWORK filter's.
  packet_context inbound;
  auto reply = ipv4_packet({162, 159, 128, 233}, 443, lan, 50000, true, 0x12);
  inbound.packet = reply;
  inbound.outbound = false;
  EXPECT_FALSE(f.matches(inbound));
}

// LAN discovery: a datagram to the broadcast address of a subnet the
// machine is on stays the LAN's; another network's is an address like any.
TEST(windivert_filter, a_targets_lan_broadcast_is_left_to_the_lan) {
  auto p = drovers_params(0);
  p.broadcasts = {*net::parse_ipv4("192.168.1.255")};
  auto f = compiled(net::capture::windivert_network_filter(p), layer::network);
  auto diverted = [&](const std::string& packet) {
    packet_context c;
    c.packet = packet;
    c.outbound = true;
    return f.matches(c);
  };
  EXPECT_FALSE(
      diverted(ipv4_packet(lan, 50010, {192, 168, 1, 255}, 5355, false)));
  EXPECT_FALSE(
      diverted(ipv4_packet(lan, 50011, {255, 255, 255, 255}, 5355, false)));
  EXPECT_TRUE(
      diverted(ipv4_packet(lan, 50012, {192, 168, 2, 255}, 5355, false)));
  EXPECT_TRUE(diverted(ipv4_packet(lan, 50013, {35, 214, 1, 2}, 50003, false)));
}

// The driver finds TCP and UDP behind IPv6 extension headers, and none in
// a later fragment (sys/windivert.c): Drover's port must read such
// packets' ports as the filter does (attribution_test).
TEST(windivert_filter, transports_behind_extension_headers_are_found) {
  auto f = compiled("outbound and ((ipv6 and tcp) or (ip and udp))",
                    layer::network);
  auto diverted = [&](const std::string& packet) {
    packet_context c;
    c.packet = packet;
    c.outbound = true;
    return f.matches(c);
  };
  // An IPv6 SYN behind a hop-by-hop header and a first fragment header.
  std::string v6(40 + 8 + 8 + 20, '\0');
  auto* b = reinterpret_cast<uint8_t*>(v6.data());
  b[0] = 0x60;
  b[5] = static_cast<uint8_t>(v6.size() - 40);
  b[6] = 0;   // hop-by-hop options
  b[40] = 44; // then a fragment header
  b[48] = 6;  // then TCP
  b[56 + 12] = 0x50;
  EXPECT_TRUE(diverted(v6));
  b[48 + 3] = 0x08; // fragment offset 8: a later fragment
  EXPECT_FALSE(diverted(v6));
  auto udp = ipv4_packet(lan, 50001, {35, 214, 1, 2}, 50003, false);
  EXPECT_TRUE(diverted(udp));
  udp[7] = 0x10; // fragment offset 16: a later fragment
  EXPECT_FALSE(diverted(udp));
}

TEST(windivert_filter, the_socket_filter_sees_connects_and_closes) {
  auto f = compiled(net::capture::windivert_socket_filter(), layer::socket);
  socket_context s;
  s.protocol = 6;
  s.local_addr = mapped(192, 168, 1, 20);
  s.remote_addr = mapped(162, 159, 128, 233);
  s.local_port = 50000;
  s.remote_port = 443;
  s.process_id = 4242;
  for (int e : {3, 4, 5, 6, 7}) { // BIND CONNECT LISTEN ACCEPT CLOSE
    s.event = static_cast<uint8_t>(e);
    EXPECT_TRUE(f.matches(s)) << e;
  }
  s.event = 4;
  s.loopback = true;
  EXPECT_FALSE(f.matches(s)) << "loopback sockets are not attributed";
  s.loopback = false;
  s.protocol = 1;
  EXPECT_FALSE(f.matches(s)) << "ICMP";
}

TEST(windivert_filter, values_are_read_as_the_reference_writes_them) {
  auto packet = ipv4_packet(lan, 50000, {162, 159, 128, 233}, 443, true);
  packet_context c;
  c.packet = packet;
  for (const char* yes :
       {"ip.DstAddr == 162.159.128.233", "tcp.DstPort == 0x1bb",
        "tcp.Syn and !tcp.Ack", "remotePort == 443 and localPort == 50000",
        "remoteAddr == 162.159.128.233", "protocol == TCP",
        "ip.DstAddr > 162.159.128.232 && ip.DstAddr <= 162.159.128.233",
        "packet[9] == 6", "packet16[-18] == 443", "ip.TTL = 64", "not udp",
        "udp.DstPort != 443 ? false : true"}) {
    auto f = compiled(yes, layer::network);
    EXPECT_TRUE(f.matches(c)) << yes;
  }
  for (const char* no : {"udp.DstPort != 443", "ipv6", "tcp.Fin",
                         "ipv6.DstAddr == ::1", "packet[4000] == 0"}) {
    auto f = compiled(no, layer::network);
    EXPECT_FALSE(f.matches(c)) << no << " (a field the packet lacks fails)";
  }
  std::string too_long_token(41, 'a');
  EXPECT_EQ(error_of("tcp.DstPort == " + too_long_token, layer::network),
            "too long");
  std::string deep(1100, '(');
  EXPECT_EQ(error_of(deep + "tcp" + std::string(1100, ')'), layer::network),
            "too deep");
}
