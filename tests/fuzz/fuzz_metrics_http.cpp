// Any bytes a local program sends the metrics endpoint: read within them,
// answered with a whole HTTP answer, never past the request's bound.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/metrics_http.hpp"

using namespace drover::net::metrics_http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so AddressSanitizer sees any read past the end.
  std::vector<char> buf(data, data + size);
  auto v = read_request(std::string_view{buf.data(), buf.size()});
  if (v == verdict::need_more && size > max_request)
    std::abort();
  if (v != verdict::need_more) {
    auto a = answer(v, "x 1\n");
    if (a.rfind("HTTP/1.1 ", 0) != 0
        || a.find("\r\nConnection: close\r\n\r\n") == std::string::npos)
      std::abort();
  }
  return 0;
}
