#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drover::net {

/// An IPv4 address in host byte order.
struct ipv4_address {
  uint32_t value = 0;

  friend bool operator==(ipv4_address a, ipv4_address b) {
    return a.value == b.value;
  }
  friend bool operator!=(ipv4_address a, ipv4_address b) { return !(a == b); }
};

/// An IPv4 network: the address with the host bits cleared, and the prefix.
struct ipv4_cidr {
  ipv4_address network;
  uint8_t prefix_length = 32;

  bool contains(ipv4_address a) const;

  friend bool operator==(const ipv4_cidr& a, const ipv4_cidr& b) {
    return a.network == b.network && a.prefix_length == b.prefix_length;
  }
};

/// Parses dotted-quad notation strictly: four decimal parts 0..255, no
/// leading zeros (they mean octal to some parsers), nothing around it.
std::optional<ipv4_address> parse_ipv4(std::string_view text);

/// Parses "a.b.c.d/n" (n in 0..32). A bare address is a /32. Host bits set
/// below the prefix ("10.0.0.1/8") are rejected: they are almost always a
/// typo, and silently masking them would hide it.
std::optional<ipv4_cidr> parse_ipv4_cidr(std::string_view text);

std::string to_string(ipv4_address a);
std::string to_string(const ipv4_cidr& c);

} // namespace drover::net
