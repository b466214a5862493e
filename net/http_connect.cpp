#include "net/http_connect.hpp"

#include <algorithm>
#include <cstring>

namespace drover::net::http_connect {

namespace {

std::string base64(const std::string& in) {
  static constexpr char digits[]
      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16)
                 | (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8)
                 | static_cast<uint8_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6)
      out += digits[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (i + 1 < in.size())
      v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < in.size() ? digits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

} // namespace

std::string request(const std::string& host, uint16_t port,
                    const std::string& login, const std::string& password) {
  auto target = host + ":" + std::to_string(port);
  std::string r = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!login.empty())
    r += "Proxy-Authorization: Basic " + base64(login + ":" + password)
         + "\r\n";
  return r + "\r\n";
}

answer read_answer(const uint8_t* data, size_t size) {
  answer a;
  if (size == 0)
    return a;
  // "HTTP/1.x NNN": anything else from the first byte on is no HTTP.
  static constexpr char version[] = "HTTP/1.";
  size_t known = std::min(size, sizeof version - 1);
  if (std::memcmp(data, version, known) != 0) {
    a.what = outcome::not_http;
    return a;
  }
  const uint8_t* end = nullptr;
  for (size_t i = 0; i + 3 < std::min(size, max_answer); ++i)
    if (std::memcmp(data + i, "\r\n\r\n", 4) == 0) {
      end = data + i + 4;
      break;
    }
  if (end == nullptr) {
    a.what = size >= max_answer ? outcome::too_large : outcome::need_more;
    return a;
  }
  // "HTTP/1.1 200 Connection established\r\n"
  auto* line_end = static_cast<const uint8_t*>(
      std::memchr(data, '\r', static_cast<size_t>(end - data)));
  size_t line = static_cast<size_t>(line_end - data);
  if (line < 12 || (data[7] != '0' && data[7] != '1') || data[8] != ' ') {
    a.what = outcome::not_http;
    return a;
  }
  for (size_t i = 9; i < 12; ++i) {
    if (data[i] < '0' || data[i] > '9') {
      a.what = outcome::not_http;
      return a;
    }
    a.status = a.status * 10 + static_cast<unsigned>(data[i] - '0');
  }
  if (line > 12 && data[12] != ' ') {
    a.what = outcome::not_http;
    return a;
  }
  for (size_t i = 13; i < line && a.reason.size() < 64; ++i)
    a.reason += (data[i] >= 0x20 && data[i] < 0x7f) ? static_cast<char>(data[i])
                                                    : '?';
  a.header_size = static_cast<size_t>(end - data);
  if (a.status >= 200 && a.status < 300)
    a.what = outcome::connected;
  else if (a.status == 407 || a.status == 401) // tinyproxy: 401 for a wrong one
    a.what = outcome::auth_required;
  else
    a.what = outcome::refused;
  return a;
}

std::string message(const answer& a) {
  auto status = std::to_string(a.status)
                + (a.reason.empty() ? std::string{} : " " + a.reason);
  switch (a.what) {
    case outcome::need_more:
      return "the HTTP proxy's answer is not complete";
    case outcome::connected:
      return "ok";
    case outcome::auth_required:
      return "the HTTP proxy wants a login, or refused the one given (" + status
             + ")";
    case outcome::refused:
      return "the HTTP proxy refused: " + status;
    case outcome::not_http:
      return "the proxy did not answer as an HTTP proxy (check the address "
             "and port: it may be a SOCKS5 proxy or another service)";
    case outcome::too_large:
      return "the HTTP proxy's answer is too large";
  }
  return "the HTTP proxy's answer is not understood";
}

} // namespace drover::net::http_connect
