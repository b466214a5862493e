#include "net/checksum.hpp"

#include <cstring>

namespace drover::net {

namespace {

// RFC 1071 §2(B): the one's-complement sum does not depend on byte order.
// Summing the data as native 32-bit words and swapping the folded result
// once gives the network-order sum, at a fraction of the cost of assembling
// every 16-bit word from two bytes (this runs over every byte of a 64 KiB
// GSO packet whose checksum the kernel left for us to finish).
uint16_t fold64(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

// The sum of `len` (a multiple of 16) bytes as native-order 16-bit words,
// folded. Two accumulators of 32-bit halves: each add is at most 2^33, so
// 2^30 steps cannot overflow; callers pass at most a few MiB at a time.
uint16_t sum_native_blocks(const uint8_t* data, size_t len) {
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < len; i += 16) {
    uint64_t w0, w1;
    std::memcpy(&w0, data + i, 8);
    std::memcpy(&w1, data + i + 8, 8);
    a += (w0 & 0xffffffffu) + (w0 >> 32);
    b += (w1 & 0xffffffffu) + (w1 >> 32);
  }
  return fold64(a + b);
}

} // namespace

uint32_t sum_bytes(const uint8_t* data, size_t len, uint32_t sum) {
  uint64_t acc = sum;
  size_t blocks = len & ~size_t{15};
  // Bound each block run so the accumulators above stay exact.
  constexpr size_t max_run = size_t{1} << 24;
  for (size_t done = 0; done < blocks;) {
    size_t run = blocks - done < max_run ? blocks - done : max_run;
    uint16_t native = sum_native_blocks(data + done, run);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    acc += native;
#else
    acc += static_cast<uint16_t>((native << 8) | (native >> 8));
#endif
    done += run;
  }
  size_t i = blocks;
  for (; i + 2 <= len; i += 2)
    acc += static_cast<uint32_t>((data[i] << 8) | data[i + 1]);
  if (i < len)
    acc += static_cast<uint32_t>(data[i] << 8);
  // Keep the result comfortably below 2^32 for callers that keep adding.
  return fold64(acc);
}

} // namespace drover::net
