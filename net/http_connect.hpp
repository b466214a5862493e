#pragma once

// An HTTP proxy's CONNECT (RFC 9110 §9.3.6), the other kind of upstream
// beside SOCKS5: TCP only (an HTTP proxy relays no datagrams). The request
// Drover sends, and the proxy's answer read within its bounds: the proxy is
// on the network, its bytes hostile until read here. Pure code, fuzzed.

#include <cstddef>
#include <cstdint>
#include <string>

namespace drover::net::http_connect {

/// "CONNECT host:port HTTP/1.1" with its Host header and, with a login,
/// Proxy-Authorization: Basic (RFC 7617). `host` is a DNS name or an IPv4
/// address as text; nothing else reaches it (host_name.hpp checks names).
std::string request(const std::string& host, uint16_t port,
                    const std::string& login = {},
                    const std::string& password = {});

enum class outcome : uint8_t {
  need_more,     // the answer's header is not whole yet
  connected,     // 2xx: the tunnel is open; `header_size` bytes were the
                 // answer, what follows is the server's
  auth_required, // 407 (or 401, as tinyproxy answers a wrong password): the
                 // proxy wants a login, or refused the one given
  refused,       // another status: the proxy will not (403, 502, ...)
  not_http,      // not an HTTP answer: not an HTTP proxy there
  too_large,     // a header beyond max_answer: not a proxy's CONNECT answer
};

/// The longest answer header read.
constexpr size_t max_answer = 8192;

struct answer {
  outcome what = outcome::need_more;
  unsigned status = 0;    // the status code, once read
  size_t header_size = 0; // connected: where the tunnel's bytes begin
  std::string reason;     // the status line's reason, printable, bounded
};

/// Reads the proxy's answer from what it sent so far.
answer read_answer(const uint8_t* data, size_t size);

/// A sentence for a user: "the HTTP proxy refused: 403 Forbidden", ...
std::string message(const answer& a);

} // namespace drover::net::http_connect
