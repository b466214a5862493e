#include "net/checksum.hpp"

namespace drover::net {

uint32_t sum_bytes(const uint8_t* data, size_t len, uint32_t sum) {
  // 64-bit accumulator: no fold needed inside the loop for any IP packet.
  uint64_t acc = sum;
  size_t i = 0;
  for (; i + 8 <= len; i += 8)
    acc += uint64_t{static_cast<uint32_t>((data[i] << 8) | data[i + 1])}
           + static_cast<uint32_t>((data[i + 2] << 8) | data[i + 3])
           + static_cast<uint32_t>((data[i + 4] << 8) | data[i + 5])
           + static_cast<uint32_t>((data[i + 6] << 8) | data[i + 7]);
  for (; i + 2 <= len; i += 2)
    acc += static_cast<uint32_t>((data[i] << 8) | data[i + 1]);
  if (i < len)
    acc += static_cast<uint32_t>(data[i] << 8);
  while (acc >> 32)
    acc = (acc & 0xffffffffu) + (acc >> 32);
  // Keep the result comfortably below 2^32 for callers that keep adding.
  acc = (acc & 0xffffu) + (acc >> 16);
  return static_cast<uint32_t>(acc);
}

} // namespace drover::net
