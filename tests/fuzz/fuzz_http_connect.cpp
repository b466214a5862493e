// Any bytes an HTTP proxy answers CONNECT with: read within them; a tunnel
// opens only on a whole header with a 2xx status, and the tunnel's bytes
// begin inside what came.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "net/http_connect.hpp"

using namespace drover::net::http_connect;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so AddressSanitizer sees any read past the end.
  std::vector<uint8_t> buf(data, data + size);
  auto a = read_answer(buf.data(), buf.size());
  if (a.what == outcome::connected
      && (a.status < 200 || a.status > 299 || a.header_size > size
          || a.header_size < 16))
    std::abort();
  if (a.reason.size() > 64 || message(a).empty())
    std::abort();
  // More bytes never undo a whole answer.
  if (a.what != outcome::need_more && size > 0) {
    buf.push_back(data[0]);
    auto b = read_answer(buf.data(), buf.size());
    if (b.what != a.what || b.status != a.status)
      std::abort();
  }
  return 0;
}
