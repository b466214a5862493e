// Any first bytes an application sends: the name is read within them, is
// always a plain DNS name, and more bytes never change a name once read
// (TCP may hand the same bytes over in any pieces).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/host_name.hpp"

using namespace drover::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so AddressSanitizer sees any read past the end.
  std::vector<uint8_t> buf(data, data + size);
  std::string host;
  auto whole = host_of_first_bytes(buf.data(), buf.size(), host);
  if (whole == first_bytes::named && (!is_dns_name(host) || host.size() > 254))
    std::abort();
  if (size < 2)
    return 0;
  size_t cut = data[size - 1] % size;
  std::vector<uint8_t> part(data, data + cut);
  std::string early;
  auto first = host_of_first_bytes(part.data(), part.size(), early);
  if (first == first_bytes::named
      && (whole != first_bytes::named || early != host))
    std::abort();
  if (first == first_bytes::unnamed && whole != first_bytes::unnamed)
    std::abort();
  return 0;
}
