#include "net/stun.hpp"

#include <cstring>

#include "net/bytes.hpp"

namespace drover::net::stun {

namespace {

constexpr uint16_t binding_request = 0x0001;
constexpr uint16_t binding_success = 0x0101;
constexpr uint16_t binding_error = 0x0111;
constexpr uint16_t attr_mapped_address = 0x0001;
constexpr uint16_t attr_xor_mapped_address = 0x0020;
constexpr uint8_t family_ipv4 = 0x01;

// An address attribute's value: 0, family, port, address. False when it is
// malformed; `is_ipv4` false for an IPv6 one (valid, not usable here).
bool read_address(const uint8_t* v, size_t len, bool xored, endpoint& out,
                  bool& is_ipv4) {
  if (len < 4)
    return false;
  is_ipv4 = v[1] == family_ipv4;
  if (!is_ipv4)
    return v[1] == 0x02 && len >= 20; // IPv6: well-formed, but not ours
  if (len < 8)
    return false;
  uint16_t port = load16(v + 2);
  uint32_t ip = load32(v + 4);
  if (xored) {
    port ^= static_cast<uint16_t>(magic_cookie >> 16);
    ip ^= magic_cookie;
  }
  out.port = port;
  out.ip = ipv4_address{ip};
  return true;
}

} // namespace

size_t encode_binding_request(uint8_t* out, size_t capacity,
                              const transaction_id& id) {
  if (capacity < header_size)
    return 0;
  store16(out, binding_request);
  store16(out + 2, 0); // no attributes
  store32(out + 4, magic_cookie);
  std::memcpy(out + 8, id.data(), id.size());
  return header_size;
}

const char* message(error e) {
  switch (e) {
    case error::none:
      return "ok";
    case error::truncated:
      return "the STUN reply is cut short";
    case error::not_stun:
      return "the reply is not a STUN message";
    case error::other_transaction:
      return "the STUN reply answers a different request";
    case error::error_response:
      return "the STUN server answered with an error";
    case error::not_binding:
      return "the STUN reply is not a Binding response";
    case error::bad_attribute:
      return "the STUN reply has a malformed attribute";
    case error::no_mapped_address:
      return "the STUN reply carries no IPv4 mapped address";
  }
  return "unknown STUN error";
}

error parse_binding_response(const uint8_t* data, size_t length,
                             const transaction_id& id, endpoint& mapped) {
  if (length < header_size)
    return error::truncated;
  uint16_t type = load16(data);
  uint16_t body = load16(data + 2);
  // The two top bits of every STUN message are zero, and its length is a
  // multiple of 4 (RFC 5389 §6).
  if ((type & 0xC000) != 0 || (body & 3) != 0
      || load32(data + 4) != magic_cookie)
    return error::not_stun;
  if (header_size + body > length)
    return error::truncated;
  if (std::memcmp(data + 8, id.data(), id.size()) != 0)
    return error::other_transaction;
  if (type == binding_error)
    return error::error_response;
  if (type != binding_success)
    return error::not_binding;
  bool found = false;
  bool found_xored = false;
  // Offsets, not pointers: padding may reach past the end of the message.
  size_t at = header_size;
  size_t end = header_size + body;
  while (end - at >= 4) {
    uint16_t attr = load16(data + at);
    size_t len = load16(data + at + 2);
    size_t value = at + 4;
    if (len > end - value)
      return error::bad_attribute;
    if (attr == attr_xor_mapped_address || attr == attr_mapped_address) {
      bool xored = attr == attr_xor_mapped_address;
      endpoint e;
      bool is_ipv4 = false;
      if (!read_address(data + value, len, xored, e, is_ipv4))
        return error::bad_attribute;
      // XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS (RFC 5389 §15.2).
      if (is_ipv4 && (!found || (xored && !found_xored))) {
        mapped = e;
        found = true;
        found_xored = xored;
      }
    }
    at = value + ((len + 3) & ~size_t{3}); // attributes are padded to 4
    if (at >= end)
      break; // done (the last attribute's padding may be missing)
  }
  if (at < end)
    return error::bad_attribute; // 1 to 3 stray bytes
  return found ? error::none : error::no_mapped_address;
}

} // namespace drover::net::stun
