#pragma once

// The inside of the WinDivert filter checker (windivert_filter.hpp): the
// fields each layer has and how they read a packet or a socket event, and
// the values the language writes (windivert_filter_fields.cpp), for the
// compiler and evaluator (windivert_filter.cpp).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "tests/support/windivert_filter.hpp"

namespace drover::test::windivert_filter::detail {

__extension__ typedef unsigned __int128 value;

// Layers as bits: which layers a field is in.
enum : uint8_t {
  net = 1 << 0,
  fwd = 1 << 1,
  flw = 1 << 2,
  sck = 1 << 3,
  rfl = 1 << 4,
  all = net | fwd | flw | sck | rfl,
  packets = net | fwd,
};

uint8_t bit(layer l);

// A decoded packet: what the fields read.
struct decoded {
  bool ipv4 = false, ipv6 = false, tcp = false, udp = false, icmp = false,
       icmpv6 = false;
  const uint8_t* ip = nullptr;
  size_t ip_len = 0;
  size_t l4_off = 0; // from the start of the packet
  const uint8_t* l4 = nullptr;
  size_t l4_len = 0;
  const uint8_t* payload = nullptr;
  size_t payload_len = 0;
  uint8_t protocol = 0;
};

decoded decode(std::string_view packet);

using packet_reader = std::function<std::optional<value>(
    const decoded&, const packet_context&, int64_t index)>;
using socket_reader
    = std::function<std::optional<value>(const socket_context&)>;

struct field_spec {
  const char* name;
  uint8_t layers;
  bool indexed;
  packet_reader on_packet; // NETWORK, NETWORK_FORWARD
  socket_reader on_socket; // FLOW, SOCKET, REFLECT
};

/// Every field of the reference, with the layers it is in.
const std::vector<field_spec>& fields();

/// The reference's symbolic values (TRUE, TCP, CONNECT...).
std::optional<value> symbol(std::string_view s);
/// A decimal or hexadecimal number, negative ones as the driver takes
/// them.
std::optional<value> number(std::string_view s);
/// An IPv4 address, IPv4-mapped as the driver compares it.
std::optional<value> ipv4(std::string_view s);
/// An IPv6 address (with "::").
std::optional<value> ipv6(std::string_view s);

} // namespace drover::test::windivert_filter::detail
