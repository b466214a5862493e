#pragma once

// The smallest useful part of STUN (RFC 5389): a Binding request, and the
// parse of its success response down to the mapped address. `drover check`
// sends one through the proxy's UDP relay; a reply proves that datagrams go
// out through the proxy and come back. No allocation, no I/O; a reply that
// lies gets an error, never undefined behaviour.

#include <array>
#include <cstddef>
#include <cstdint>

#include "net/packet.hpp"

namespace drover::net::stun {

constexpr uint32_t magic_cookie = 0x2112A442;
constexpr size_t header_size = 20;

using transaction_id = std::array<uint8_t, 12>;

/// Writes a Binding request without attributes (20 bytes). Returns 0 if
/// `capacity` is too small.
size_t encode_binding_request(uint8_t* out, size_t capacity,
                              const transaction_id& id);

enum class error : uint8_t {
  none,
  truncated,         // shorter than its header or its declared length
  not_stun,          // no magic cookie, or bits a STUN message never has
  other_transaction, // an answer, but not to our request
  error_response,    // a Binding error response (e.g. 400)
  not_binding,       // some other STUN method or class
  bad_attribute,     // an attribute runs past the end or is malformed
  no_mapped_address, // success, but without an IPv4 mapped address
};

/// A sentence for a user or a log line.
const char* message(error e);

/// Parses a Binding success response to `id`: `mapped` is the address the
/// server saw the request come from (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS
/// from an RFC 3489 server).
error parse_binding_response(const uint8_t* data, size_t length,
                             const transaction_id& id, endpoint& mapped);

} // namespace drover::net::stun
