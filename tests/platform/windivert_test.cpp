// The project's own WinDivert declarations (the bit layout behind the
// static_asserts, checked byte by byte) and the error texts, on Linux and
// under wine.

#include <array>
#include <cstring>

#include <gtest/gtest.h>

#include "actors/platform/windivert_abi.hpp"
#include "actors/platform/windivert_errors.hpp"

using namespace drover::platform;
using namespace drover::platform::windivert;

namespace {

// The raw bytes of an address with only what `set` writes.
template<class Set>
std::array<uint8_t, 80> bytes_of(Set set) {
  address a;
  std::memset(&a, 0, sizeof a);
  set(a);
  std::array<uint8_t, 80> out{};
  std::memcpy(out.data(), &a, sizeof a);
  return out;
}

} // namespace

TEST(windivert_abi, the_flag_bits_sit_where_the_driver_reads_them) {
  EXPECT_EQ(bytes_of([](address& a) { a.layer = layer_socket; })[8], 3);
  EXPECT_EQ(bytes_of([](address& a) { a.event = event_socket_connect; })[9], 4);
  // Byte 10: Sniffed 0x01, Outbound 0x02, Loopback 0x04, Impostor 0x08,
  // IPv6 0x10, IPChecksum 0x20, TCPChecksum 0x40, UDPChecksum 0x80.
  EXPECT_EQ(bytes_of([](address& a) { a.sniffed = 1; })[10], 0x01);
  EXPECT_EQ(bytes_of([](address& a) { a.outbound = 1; })[10], 0x02);
  EXPECT_EQ(bytes_of([](address& a) { a.loopback = 1; })[10], 0x04);
  EXPECT_EQ(bytes_of([](address& a) { a.impostor = 1; })[10], 0x08);
  EXPECT_EQ(bytes_of([](address& a) { a.ipv6 = 1; })[10], 0x10);
  EXPECT_EQ(bytes_of([](address& a) { a.ip_checksum = 1; })[10], 0x20);
  EXPECT_EQ(bytes_of([](address& a) { a.tcp_checksum = 1; })[10], 0x40);
  EXPECT_EQ(bytes_of([](address& a) { a.udp_checksum = 1; })[10], 0x80);
}

TEST(windivert_abi, socket_fields_in_host_order_at_their_offsets) {
  auto b = bytes_of([](address& a) {
    a.flow.process_id = 0x11223344;
    a.flow.local_port = 0xABCD;
    a.flow.protocol = 17;
  });
  uint32_t pid = 0;
  std::memcpy(&pid, &b[32], 4);
  EXPECT_EQ(pid, 0x11223344u);
  uint16_t port = 0;
  std::memcpy(&port, &b[68], 2);
  EXPECT_EQ(port, 0xABCD);
  EXPECT_EQ(b[72], 17);
}

TEST(windivert_errors, not_administrator_is_a_privilege_problem) {
  auto e = explain_open_error(5);
  EXPECT_EQ(e.failure, capture_failure::not_permitted);
  EXPECT_NE(e.text.find("Run as administrator"), std::string::npos) << e.text;
}

TEST(windivert_errors, each_driver_problem_says_what_to_do) {
  struct row {
    uint32_t code;
    const char* says;
  };
  for (auto [code, says] :
       {row{2, "sc delete WinDivert"}, row{3, "reinstall Drover"},
        row{577, "signature"}, row{1275, "antivirus"},
        row{654, "old WinDivert"}, row{1753, "Base Filtering Engine"},
        row{1058, "sc delete WinDivert"}, row{110, "could not be installed"},
        row{87, "bug in Drover"}, row{4242, "Windows error 4242"}}) {
    auto e = explain_open_error(code);
    EXPECT_EQ(e.failure, capture_failure::unavailable) << code;
    EXPECT_NE(e.text.find(says), std::string::npos) << code << ": " << e.text;
    EXPECT_NE(e.text.find("(Windows error " + std::to_string(code) + ")"),
              std::string::npos)
        << e.text;
  }
}

TEST(windivert_errors, a_shutdown_is_not_a_lost_handle) {
  EXPECT_EQ(classify_recv_error(232), recv_outcome::stopped);
  EXPECT_EQ(classify_recv_error(995), recv_outcome::stopped);
  EXPECT_EQ(classify_recv_error(6), recv_outcome::handle_lost);
  EXPECT_EQ(classify_recv_error(1058), recv_outcome::handle_lost);
}
