// Any bytes from a (lying) proxy, fed to every handshake parser the way a
// socket delivers them: a growing prefix. A parser may ask for more, finish
// or fail, never read past what it was given, and must agree with itself.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "net/socks5.hpp"

using namespace drover::net::socks5;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> buf(data, data + size);
  for (size_t len = 0; len <= buf.size(); ++len) {
    std::vector<uint8_t> prefix(buf.begin(),
                                buf.begin() + static_cast<long>(len));
    address bound;
    auto s = parse_reply(prefix.data(), prefix.size(), bound);
    // The shortest reply carries a one-byte domain: 3 + 1 + 1 + 1 + 2.
    if (s.done() && (s.consumed > len || s.consumed < 8))
      std::abort();
    if (s.result == parse_status::state::need_more
        && (s.needed <= len || s.needed > 3 + 1 + 1 + 255 + 2))
      std::abort();
    if (s.failed() && message(s.err)[0] == '\0')
      std::abort();
    method m;
    auto ms = parse_method_selection(prefix.data(), prefix.size(), true, m);
    if (ms.done() && ms.consumed != 2)
      std::abort();
    auto as = parse_auth_reply(prefix.data(), prefix.size());
    if (as.done() && as.consumed != 2)
      std::abort();
    if (s.done()) {
      // What was parsed encodes back to the same bytes.
      std::vector<uint8_t> again(300);
      auto n
          = encode_request(again.data(), again.size(), command::connect, bound);
      if (n != s.consumed)
        std::abort();
      for (size_t i = 3; i < n; ++i)
        if (again[i] != prefix[i])
          std::abort();
    }
  }
  return 0;
}
