#include "net/host_name.hpp"

#include <algorithm>
#include <cstring>

namespace drover::net {

namespace {

constexpr uint8_t tls_handshake = 22;
constexpr uint8_t client_hello = 1;
constexpr uint16_t server_name_extension = 0;
constexpr uint8_t host_name_type = 0;
constexpr size_t record_header = 5;
// A ClientHello larger than this is not worth waiting for (a post-quantum
// key share makes one about 1.8 KB; the limit leaves room for more).
constexpr size_t max_hello = max_first_bytes - record_header;

// A cursor over bytes that never reads past its end.
struct reader {
  const uint8_t* p;
  size_t left;
  bool ok = true;

  bool skip(size_t n) {
    if (!ok || left < n)
      return ok = false;
    p += n;
    left -= n;
    return true;
  }
  uint32_t number(size_t bytes) {
    if (!ok || left < bytes) {
      ok = false;
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i)
      v = (v << 8) | p[i];
    p += bytes;
    left -= bytes;
    return v;
  }
  // The next `n` bytes as a reader of their own.
  reader sub(size_t n) {
    reader r{p, std::min(n, left)};
    r.ok = skip(n);
    return r;
  }
};

// The SNI in a whole ClientHello body (after its 4-byte header).
first_bytes sni_of_hello(const uint8_t* body, size_t size, std::string& host) {
  reader r{body, size};
  r.skip(2 + 32);      // legacy_version, random
  r.skip(r.number(1)); // session id
  r.skip(r.number(2)); // cipher suites
  r.skip(r.number(1)); // compression methods
  if (!r.ok || r.left == 0)
    return first_bytes::unnamed; // no extensions at all
  auto extensions = r.sub(r.number(2));
  while (extensions.ok && extensions.left >= 4) {
    auto type = extensions.number(2);
    auto data = extensions.sub(extensions.number(2));
    if (!extensions.ok || type != server_name_extension)
      continue;
    auto list = data.sub(data.number(2));
    while (list.ok && list.left >= 3) {
      auto name_type = list.number(1);
      auto length = list.number(2);
      auto name = list.sub(length);
      if (!list.ok || name_type != host_name_type)
        continue;
      std::string text(reinterpret_cast<const char*>(name.p), length);
      if (!is_dns_name(text))
        return first_bytes::unnamed;
      host = std::move(text);
      return first_bytes::named;
    }
    return first_bytes::unnamed;
  }
  return first_bytes::unnamed;
}

// TLS: the ClientHello's handshake message, gathered from as many
// handshake records as it spans.
first_bytes host_of_tls(const uint8_t* data, size_t size, std::string& host) {
  uint8_t hello[max_hello];
  size_t have = 0;
  size_t need = 0; // the handshake message's whole size, once known
  size_t at = 0;
  while (at + record_header <= size) {
    const uint8_t* h = data + at;
    size_t length = (size_t{h[3]} << 8) | h[4];
    if (h[0] != tls_handshake || h[1] != 3 || length == 0)
      return first_bytes::unnamed;
    size_t body = std::min(length, size - at - record_header);
    if (have + body > sizeof hello)
      return first_bytes::unnamed;
    std::memcpy(hello + have, h + record_header, body);
    have += body;
    if (need == 0 && have >= 4) {
      if (hello[0] != client_hello)
        return first_bytes::unnamed;
      need
          = 4 + ((size_t{hello[1]} << 16) | (size_t{hello[2]} << 8) | hello[3]);
      if (need > sizeof hello)
        return first_bytes::unnamed;
    }
    if (need != 0 && have >= need)
      return sni_of_hello(hello + 4, need - 4, host);
    if (body < length)
      return first_bytes::need_more; // this record is not whole yet
    at += record_header + length;
  }
  return first_bytes::need_more;
}

bool is_token_char(uint8_t c) {
  return c >= 'A' && c <= 'Z';
}

bool equals_ignoring_case(const uint8_t* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    auto x = a[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<uint8_t>(x - 'A' + 'a');
    if (x != static_cast<uint8_t>(b[i]))
      return false;
  }
  return true;
}

// HTTP/1: "METHOD target HTTP/1.x", then headers up to the blank line.
first_bytes host_of_http(const uint8_t* data, size_t size, std::string& host) {
  size_t method = 0;
  while (method < size && method < 16 && is_token_char(data[method]))
    ++method;
  if (method == size)
    return first_bytes::need_more;
  if (method == 0 || data[method] != ' ')
    return first_bytes::unnamed;
  const uint8_t* end = nullptr;
  for (size_t i = 0; i + 3 < size; ++i)
    if (std::memcmp(data + i, "\r\n\r\n", 4) == 0) {
      end = data + i + 2; // keeps the last header's line end
      break;
    }
  if (end == nullptr)
    return size >= max_first_bytes ? first_bytes::unnamed
                                   : first_bytes::need_more;
  const uint8_t* line = data;
  while (line < end) {
    auto* eol = static_cast<const uint8_t*>(
        std::memchr(line, '\n', static_cast<size_t>(end - line)));
    if (eol == nullptr)
      break;
    size_t n = static_cast<size_t>(eol - line);
    if (n >= 5 && equals_ignoring_case(line, "host:", 5)) {
      size_t from = 5;
      while (from < n && (line[from] == ' ' || line[from] == '\t'))
        ++from;
      size_t to = n;
      while (to > from
             && (line[to - 1] == '\r' || line[to - 1] == ' '
                 || line[to - 1] == '\t'))
        --to;
      std::string value(reinterpret_cast<const char*>(line + from), to - from);
      auto colon = value.find(':');
      if (colon != std::string::npos) {
        auto port = value.substr(colon + 1);
        if (port.empty() || port.size() > 5
            || port.find_first_not_of("0123456789") != std::string::npos)
          return first_bytes::unnamed;
        value.resize(colon);
      }
      if (!is_dns_name(value))
        return first_bytes::unnamed;
      host = std::move(value);
      return first_bytes::named;
    }
    line = eol + 1;
  }
  return first_bytes::unnamed;
}

} // namespace

bool is_dns_name(const std::string& name) {
  auto text = name;
  if (!text.empty() && text.back() == '.')
    text.pop_back();
  if (text.empty() || text.size() > 253)
    return false;
  bool all_digits_and_dots = true;
  size_t label = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (label == 0 || text[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    if (!letter && !digit && c != '-')
      return false;
    if (c == '-' && label == 0)
      return false;
    if (++label > 63)
      return false;
    all_digits_and_dots &= digit;
  }
  return label > 0 && text.back() != '-' && !all_digits_and_dots;
}

first_bytes host_of_first_bytes(const uint8_t* data, size_t size,
                                std::string& host) {
  if (size == 0)
    return first_bytes::need_more;
  bool all_there_is = size >= max_first_bytes; // waiting gives no more
  size = std::min(size, max_first_bytes);
  auto r = data[0] == tls_handshake ? host_of_tls(data, size, host)
           : is_token_char(data[0]) ? host_of_http(data, size, host)
                                    : first_bytes::unnamed;
  return r == first_bytes::need_more && all_there_is ? first_bytes::unnamed : r;
}

} // namespace drover::net
