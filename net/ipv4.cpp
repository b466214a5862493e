#include "net/ipv4.hpp"

namespace drover::net {

namespace {

uint32_t prefix_mask(uint8_t prefix_length) {
  return prefix_length == 0 ? 0u : ~uint32_t{0} << (32 - prefix_length);
}

// Parses a decimal number without sign or leading zeros, at most `max`.
std::optional<uint32_t> parse_decimal(std::string_view s, uint32_t max) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0'))
    return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > max)
    return std::nullopt;
  return v;
}

} // namespace

bool ipv4_cidr::contains(ipv4_address a) const {
  return (a.value & prefix_mask(prefix_length)) == network.value;
}

std::optional<ipv4_address> parse_ipv4(std::string_view text) {
  uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    auto dot = text.find('.');
    if ((part < 3) != (dot != std::string_view::npos))
      return std::nullopt;
    auto octet = parse_decimal(text.substr(0, dot), 255);
    if (!octet)
      return std::nullopt;
    value = (value << 8) | *octet;
    text = part < 3 ? text.substr(dot + 1) : std::string_view{};
  }
  return ipv4_address{value};
}

std::optional<ipv4_cidr> parse_ipv4_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto addr = parse_ipv4(text.substr(0, slash));
  if (!addr)
    return std::nullopt;
  uint32_t prefix = 32;
  if (slash != std::string_view::npos) {
    auto p = parse_decimal(text.substr(slash + 1), 32);
    if (!p)
      return std::nullopt;
    prefix = *p;
  }
  auto len = static_cast<uint8_t>(prefix);
  if ((addr->value & ~prefix_mask(len)) != 0)
    return std::nullopt;
  return ipv4_cidr{*addr, len};
}

std::string to_string(ipv4_address a) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    s += std::to_string((a.value >> shift) & 0xffu);
    if (shift > 0)
      s += '.';
  }
  return s;
}

std::string to_string(const ipv4_cidr& c) {
  return to_string(c.network) + "/" + std::to_string(c.prefix_length);
}

} // namespace drover::net
