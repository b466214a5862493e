#pragma once

// The host name an application's first bytes name: the server name (SNI) of
// a TLS ClientHello, or the Host header of an HTTP/1 request. The relay
// asks the proxy to CONNECT to that name (SOCKS5 ATYP 3), so the proxy
// resolves it and a poisoned answer from the local DNS stops mattering for
// TCP. The bytes come from a captured application, a less privileged side:
// read within their bounds, and the name is taken only when it is a plain
// DNS name. Pure code (no allocation but the result), fuzzed.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace drover::net {

enum class first_bytes : uint8_t {
  named,     // `host` is set
  need_more, // a ClientHello or request that is not whole yet
  unnamed,   // whole, or not TLS or HTTP: no name to take (use the address)
};

/// Reads the first bytes a client sent on a connection. A TLS ClientHello
/// may span several records; an HTTP request's headers end at the blank
/// line. At most `max_first_bytes` are looked at: beyond that, unnamed.
first_bytes host_of_first_bytes(const uint8_t* data, size_t size,
                                std::string& host);

constexpr size_t max_first_bytes = 16384;

/// Ports where clients speak first and name their server (HTTPS, HTTP):
/// there the relay waits up to `name_wait` for the first bytes; elsewhere
/// (a server that speaks first, say) it does not wait.
inline bool names_expected_on(uint16_t port) {
  return port == 443 || port == 80 || port == 8443 || port == 8080;
}
constexpr std::chrono::milliseconds name_wait{300};

/// A DNS name fit for SOCKS5's ATYP 3: 1..253 characters of letters,
/// digits, '-' and '.', labels of 1..63 not starting or ending with '-',
/// and not an IPv4 address written out (that is no name to resolve). A
/// trailing dot is allowed.
bool is_dns_name(const std::string& name);

} // namespace drover::net
