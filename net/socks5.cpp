#include "net/socks5.hpp"

#include <cstring>

#include "net/bytes.hpp"

namespace drover::net::socks5 {

namespace {

parse_status need(size_t total) {
  parse_status s;
  s.result = parse_status::state::need_more;
  s.needed = total;
  return s;
}

parse_status fail(error e) {
  parse_status s;
  s.result = parse_status::state::failed;
  s.err = e;
  return s;
}

parse_status done(size_t consumed) {
  parse_status s;
  s.result = parse_status::state::done;
  s.consumed = consumed;
  return s;
}

// Writes ATYP ADDR PORT; the caller checked the capacity.
size_t write_address(uint8_t* out, const address& a) {
  size_t n = 0;
  out[n++] = static_cast<uint8_t>(a.type);
  switch (a.type) {
    case address_type::ipv4:
      store32(out + n, a.ipv4.value);
      n += 4;
      break;
    case address_type::ipv6:
      std::memcpy(out + n, a.ipv6.data(), 16);
      n += 16;
      break;
    case address_type::domain:
      out[n++] = a.domain_length;
      std::memcpy(out + n, a.domain.data(), a.domain_length);
      n += a.domain_length;
      break;
  }
  store16(out + n, a.port);
  return n + 2;
}

// Reads ATYP ADDR PORT starting at data[0]; needs_total is relative to data.
parse_status read_address(const uint8_t* data, size_t length, address& a) {
  if (length < 1)
    return need(1);
  size_t addr_len = 0;
  size_t header = 1;
  switch (data[0]) {
    case static_cast<uint8_t>(address_type::ipv4):
      addr_len = 4;
      break;
    case static_cast<uint8_t>(address_type::ipv6):
      addr_len = 16;
      break;
    case static_cast<uint8_t>(address_type::domain):
      if (length < 2)
        return need(2);
      addr_len = data[1];
      header = 2;
      if (addr_len == 0)
        return fail(error::bad_domain_length);
      break;
    default:
      return fail(error::bad_address_type);
  }
  size_t total = header + addr_len + 2;
  if (length < total)
    return need(total);
  a.type = static_cast<address_type>(data[0]);
  switch (a.type) {
    case address_type::ipv4:
      a.ipv4 = ipv4_address{load32(data + 1)};
      break;
    case address_type::ipv6:
      std::memcpy(a.ipv6.data(), data + 1, 16);
      break;
    case address_type::domain:
      a.domain_length = static_cast<uint8_t>(addr_len);
      std::memcpy(a.domain.data(), data + 2, addr_len);
      break;
  }
  a.port = load16(data + header + addr_len);
  return done(total);
}

} // namespace

address address::from_ipv4(ipv4_address ip, uint16_t port) {
  address a;
  a.type = address_type::ipv4;
  a.ipv4 = ip;
  a.port = port;
  return a;
}

bool address::from_domain(std::string_view name, uint16_t port, address& out) {
  if (name.empty() || name.size() > 255)
    return false;
  out = address{};
  out.type = address_type::domain;
  out.domain_length = static_cast<uint8_t>(name.size());
  std::memcpy(out.domain.data(), name.data(), name.size());
  out.port = port;
  return true;
}

size_t address::wire_size() const {
  switch (type) {
    case address_type::ipv4:
      return 1 + 4 + 2;
    case address_type::ipv6:
      return 1 + 16 + 2;
    case address_type::domain:
      return 1 + 1 + size_t{domain_length} + 2;
  }
  return 0;
}

const char* message(error e) {
  switch (e) {
    case error::none:
      return "ok";
    case error::general_failure:
      return "proxy refused: general SOCKS server failure";
    case error::not_allowed_by_ruleset:
      return "proxy refused: connection not allowed by ruleset";
    case error::network_unreachable:
      return "proxy refused: network unreachable";
    case error::host_unreachable:
      return "proxy refused: host unreachable";
    case error::connection_refused:
      return "proxy refused: the destination refused the connection";
    case error::ttl_expired:
      return "proxy refused: TTL expired";
    case error::command_not_supported:
      return "proxy refused: command not supported (a proxy without UDP "
             "ASSOCIATE cannot carry Discord voice)";
    case error::address_type_not_supported:
      return "proxy refused: address type not supported";
    case error::unassigned_reply_code:
      return "proxy refused the request with an unknown reply code";
    case error::not_socks5:
      return "the proxy did not answer as a SOCKS5 server (check the "
             "address and port: it may be an HTTP proxy or another service)";
    case error::no_acceptable_method:
      return "the proxy accepts none of the offered authentication methods "
             "(it may need a login and password: set proxy.auth)";
    case error::unexpected_method:
      return "the proxy chose an authentication method that was not offered";
    case error::auth_rejected:
      return "authentication rejected: the proxy refused the login or "
             "password";
    case error::bad_auth_version:
      return "the proxy answered the login with an unknown sub-negotiation "
             "version";
    case error::bad_address_type:
      return "the proxy sent an address of unknown type";
    case error::bad_domain_length:
      return "the proxy sent an empty domain name";
    case error::credentials_too_long:
      return "the login and password must each be 1 to 255 bytes long";
    case error::buffer_too_small:
      return "internal error: SOCKS5 message buffer too small";
    case error::fragmented:
      return "the proxy sent a fragmented UDP datagram (not supported; "
             "dropped)";
    case error::truncated_datagram:
      return "the proxy sent a UDP datagram shorter than its header";
    case error::out_of_order:
      return "Drover sent a SOCKS5 request out of order (a bug in Drover: "
             "please report it)";
  }
  return "unknown SOCKS5 error";
}

error from_reply_code(uint8_t code) {
  switch (code) {
    case 0:
      return error::none;
    case 1:
      return error::general_failure;
    case 2:
      return error::not_allowed_by_ruleset;
    case 3:
      return error::network_unreachable;
    case 4:
      return error::host_unreachable;
    case 5:
      return error::connection_refused;
    case 6:
      return error::ttl_expired;
    case 7:
      return error::command_not_supported;
    case 8:
      return error::address_type_not_supported;
    default:
      return error::unassigned_reply_code;
  }
}

size_t encode_greeting(uint8_t* out, size_t capacity, bool with_auth) {
  size_t n = with_auth ? 4 : 3;
  if (capacity < n)
    return 0;
  out[0] = version;
  out[1] = with_auth ? 2 : 1;
  out[2] = static_cast<uint8_t>(method::no_auth);
  if (with_auth)
    out[3] = static_cast<uint8_t>(method::username_password);
  return n;
}

size_t encode_auth(uint8_t* out, size_t capacity, std::string_view user,
                   std::string_view password) {
  if (user.empty() || user.size() > 255 || password.empty()
      || password.size() > 255)
    return 0;
  size_t n = 3 + user.size() + password.size();
  if (capacity < n)
    return 0;
  out[0] = auth_version;
  out[1] = static_cast<uint8_t>(user.size());
  std::memcpy(out + 2, user.data(), user.size());
  out[2 + user.size()] = static_cast<uint8_t>(password.size());
  std::memcpy(out + 3 + user.size(), password.data(), password.size());
  return n;
}

size_t encode_request(uint8_t* out, size_t capacity, command cmd,
                      const address& dst) {
  size_t n = 3 + dst.wire_size();
  if (capacity < n)
    return 0;
  out[0] = version;
  out[1] = static_cast<uint8_t>(cmd);
  out[2] = 0; // RSV
  write_address(out + 3, dst);
  return n;
}

parse_status parse_method_selection(const uint8_t* data, size_t length,
                                    bool offered_auth, method& chosen) {
  if (length >= 1 && data[0] != version)
    return fail(error::not_socks5);
  if (length < 2)
    return need(2);
  switch (data[1]) {
    case static_cast<uint8_t>(method::no_auth):
      chosen = method::no_auth;
      return done(2);
    case static_cast<uint8_t>(method::username_password):
      if (!offered_auth)
        return fail(error::unexpected_method);
      chosen = method::username_password;
      return done(2);
    case static_cast<uint8_t>(method::none_acceptable):
      return fail(error::no_acceptable_method);
    default:
      return fail(error::unexpected_method);
  }
}

parse_status parse_auth_reply(const uint8_t* data, size_t length) {
  if (length >= 1 && data[0] != auth_version)
    return fail(error::bad_auth_version);
  if (length < 2)
    return need(2);
  if (data[1] != 0)
    return fail(error::auth_rejected);
  return done(2);
}

parse_status parse_reply(const uint8_t* data, size_t length, address& bound) {
  if (length >= 1 && data[0] != version)
    return fail(error::not_socks5);
  if (length < 2)
    return need(2);
  if (auto e = from_reply_code(data[1]); e != error::none)
    return fail(e);
  // RSV (data[2]) should be 0; proxies that send something else are
  // tolerated, as the byte carries no meaning.
  if (length < 3)
    return need(3);
  auto s = read_address(data + 3, length - 3, bound);
  if (s.result == parse_status::state::need_more)
    return need(3 + s.needed);
  if (s.failed())
    return s;
  return done(3 + s.consumed);
}

address relay_address(const address& bound, ipv4_address proxy_ip) {
  if (bound.type == address_type::ipv4 && bound.ipv4.value == 0)
    return address::from_ipv4(proxy_ip, bound.port);
  if (bound.type == address_type::ipv6) {
    bool unspecified = true;
    for (auto b : bound.ipv6)
      unspecified = unspecified && b == 0;
    if (unspecified)
      return address::from_ipv4(proxy_ip, bound.port);
  }
  return bound;
}

size_t write_udp_header(uint8_t* out, size_t capacity, const address& dst) {
  size_t n = udp_header_size(dst);
  if (capacity < n)
    return 0;
  out[0] = 0; // RSV
  out[1] = 0;
  out[2] = 0; // FRAG: standalone datagram
  write_address(out + 3, dst);
  return n;
}

error parse_udp_datagram(const uint8_t* data, size_t length,
                         udp_datagram& out) {
  if (length < 4)
    return error::truncated_datagram;
  if (data[2] != 0)
    return error::fragmented;
  auto s = read_address(data + 3, length - 3, out.from);
  if (s.result == parse_status::state::need_more)
    return error::truncated_datagram;
  if (s.failed())
    return s.err;
  out.payload_offset = 3 + s.consumed;
  return error::none;
}

} // namespace drover::net::socks5
