#pragma once

// SOCKS5 client codec (RFC 1928, RFC 1929): encoders that write into the
// caller's buffer and parsers that take every byte received so far for the
// current message and say whether it is complete, how long it was, or what
// is wrong. No allocation, no I/O; a proxy that lies gets an error, never
// undefined behaviour.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/ipv4.hpp"

namespace drover::net::socks5 {

constexpr uint8_t version = 5;
constexpr uint8_t auth_version = 1; // RFC 1929 sub-negotiation

enum class method : uint8_t {
  no_auth = 0x00,
  gssapi = 0x01,
  username_password = 0x02,
  none_acceptable = 0xff,
};

enum class command : uint8_t { connect = 1, bind = 2, udp_associate = 3 };

enum class address_type : uint8_t { ipv4 = 1, domain = 3, ipv6 = 4 };

/// A SOCKS5 address: IPv4, IPv6 or a domain name, and a port.
struct address {
  address_type type = address_type::ipv4;
  ipv4_address ipv4;
  std::array<uint8_t, 16> ipv6{};
  std::array<char, 255> domain{};
  uint8_t domain_length = 0;
  uint16_t port = 0;

  static address from_ipv4(ipv4_address ip, uint16_t port);
  /// Fails (returns false) for an empty name or one over 255 bytes.
  static bool from_domain(std::string_view name, uint16_t port, address& out);

  std::string_view domain_name() const {
    return {domain.data(), domain_length};
  }
  /// The bytes this address takes on the wire (ATYP + ADDR + PORT).
  size_t wire_size() const;
};

/// Everything that can go wrong, each with its own message for users.
enum class error : uint8_t {
  none,
  // Reply codes 1..8 (RFC 1928 §6), then anything else.
  general_failure,
  not_allowed_by_ruleset,
  network_unreachable,
  host_unreachable,
  connection_refused,
  ttl_expired,
  command_not_supported,
  address_type_not_supported,
  unassigned_reply_code,
  // Protocol violations and negotiation failures.
  not_socks5,           // wrong version byte
  no_acceptable_method, // 0xFF: the proxy accepts none we offered
  unexpected_method,    // a method we did not offer
  auth_rejected,        // RFC 1929 status != 0
  bad_auth_version,     // RFC 1929 reply version is not 1
  bad_address_type,     // unknown ATYP
  bad_domain_length,    // domain of length 0
  credentials_too_long, // user name or password over 255 bytes
  buffer_too_small,     // the caller's output buffer
  // UDP relay datagrams.
  fragmented,         // FRAG != 0: not supported, dropped
  truncated_datagram, // shorter than its own header
  // The client's own sequence (net/socks5_handshake).
  out_of_order, // a request before the proxy let one go: Drover's bug
};

/// A sentence a user can act on, e.g. "proxy refused: connection not
/// allowed by ruleset".
const char* message(error e);

/// A reply code's error (0 is error::none).
error from_reply_code(uint8_t code);

/// Result of feeding a parser the bytes received so far.
struct parse_status {
  enum class state : uint8_t { need_more, done, failed };
  state result = state::need_more;
  size_t needed = 0;   // need_more: at least this many bytes in total
  size_t consumed = 0; // done: the message's length
  error err = error::none;

  bool done() const { return result == state::done; }
  bool failed() const { return result == state::failed; }
};

// -- encoders: return the bytes written, 0 if `capacity` is too small -----

/// The greeting: offers no-auth, plus username/password when `with_auth`.
size_t encode_greeting(uint8_t* out, size_t capacity, bool with_auth);

/// RFC 1929 username/password request. Returns 0 if either is empty or
/// longer than 255 bytes, or the buffer is too small.
size_t encode_auth(uint8_t* out, size_t capacity, std::string_view user,
                   std::string_view password);

/// A CONNECT or UDP ASSOCIATE request.
size_t encode_request(uint8_t* out, size_t capacity, command cmd,
                      const address& dst);

// -- parsers -----------------------------------------------------------

/// The server's method selection (2 bytes). `offered_auth` says whether the
/// greeting offered username/password.
parse_status parse_method_selection(const uint8_t* data, size_t length,
                                    bool offered_auth, method& chosen);

/// The RFC 1929 reply (2 bytes).
parse_status parse_auth_reply(const uint8_t* data, size_t length);

/// A CONNECT / UDP ASSOCIATE reply: the bound address on success; the reply
/// code's error otherwise (reported as soon as the code byte arrives).
parse_status parse_reply(const uint8_t* data, size_t length, address& bound);

/// Where to send UDP datagrams after UDP ASSOCIATE: BND.ADDR, except that
/// an unspecified address (0.0.0.0) means the proxy's own address.
address relay_address(const address& bound, ipv4_address proxy_ip);

// -- UDP relay datagrams (RFC 1928 §7) --------------------------------------

/// Size of the header in front of a datagram to `dst` (10 for IPv4).
inline size_t udp_header_size(const address& dst) {
  return 3 + dst.wire_size();
}

/// Writes RSV RSV FRAG ATYP DST.ADDR DST.PORT. Returns its size, or 0 if
/// `capacity` is too small. The payload goes right after it.
size_t write_udp_header(uint8_t* out, size_t capacity, const address& dst);

/// A datagram from the relay: who sent the payload and where it starts.
struct udp_datagram {
  address from;
  size_t payload_offset = 0;
};

/// Parses a relay datagram's header. FRAG != 0 is error::fragmented (the
/// caller drops and counts it).
error parse_udp_datagram(const uint8_t* data, size_t length, udp_datagram& out);

} // namespace drover::net::socks5
