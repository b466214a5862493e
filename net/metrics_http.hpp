#pragma once

// The metrics endpoint's HTTP (seed 003): a scraper's request read within
// its bounds, and the answer. Only `GET /metrics` is served; the endpoint
// is on loopback, yet any local program may connect, so its bytes are
// hostile until read here. Pure code, fuzzed.

#include <cstddef>
#include <string>
#include <string_view>

namespace drover::net::metrics_http {

/// The longest request read (a scraper's is a few hundred bytes).
constexpr size_t max_request = 8192;

enum class verdict : unsigned char {
  need_more,   // the header is not whole yet
  metrics,     // GET /metrics (a query string is ignored)
  not_found,   // GET of another path
  not_allowed, // another method
  bad_request, // not an HTTP/1.x request, or too long
};

/// Reads the bytes received so far on a connection.
verdict read_request(std::string_view received);

/// The whole answer for `v` (never need_more): status line, headers
/// (Content-Length, Connection: close) and, for `metrics`, `body`.
std::string answer(verdict v, const std::string& body);

} // namespace drover::net::metrics_http
