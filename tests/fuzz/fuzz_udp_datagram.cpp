// Any bytes as a datagram from the UDP relay: decapsulation either names
// the problem or yields a payload inside the datagram, and a parsed header
// re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "net/socks5.hpp"

using namespace drover::net::socks5;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> buf(data, data + size);
  udp_datagram d;
  auto e = parse_udp_datagram(buf.data(), buf.size(), d);
  if (e != error::none)
    return 0;
  if (d.payload_offset > size || buf[2] != 0)
    std::abort();
  std::vector<uint8_t> header(300);
  auto n = write_udp_header(header.data(), header.size(), d.from);
  if (n != d.payload_offset)
    std::abort();
  for (size_t i = 3; i < n; ++i)
    if (header[i] != buf[i])
      std::abort();
  return 0;
}
