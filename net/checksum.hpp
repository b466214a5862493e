#pragma once

// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Sums are kept as 32-bit accumulators of 16-bit words and folded at the
// end. A "checksum field" holds the complement of the folded sum.

#include <cstddef>
#include <cstdint>

namespace drover::net {

/// Adds the bytes to a running one's-complement sum (not folded). An odd
/// trailing byte is padded with zero, as RFC 1071 says; only the last block
/// of a sum may be odd.
uint32_t sum_bytes(const uint8_t* data, size_t len, uint32_t sum = 0);

/// Folds a running sum to 16 bits.
inline uint16_t fold(uint32_t sum) {
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

/// The checksum field value for a running sum.
inline uint16_t finish(uint32_t sum) {
  return static_cast<uint16_t>(~fold(sum));
}

/// The TCP/UDP pseudo-header sum (source, destination, protocol, length),
/// addresses in host order.
inline uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint8_t proto,
                                  uint16_t l4_length) {
  return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto
         + l4_length;
}

/// RFC 1624 eqn. 3: the new checksum field after a 16-bit word of the
/// covered data changed from `old_word` to `new_word`.
inline uint16_t update16(uint16_t field, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~field);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return static_cast<uint16_t>(~fold(sum));
}

/// The same for a 32-bit value (an IPv4 address).
inline uint16_t update32(uint16_t field, uint32_t old_value,
                         uint32_t new_value) {
  field = update16(field, static_cast<uint16_t>(old_value >> 16),
                   static_cast<uint16_t>(new_value >> 16));
  return update16(field, static_cast<uint16_t>(old_value),
                  static_cast<uint16_t>(new_value));
}

/// For a field that holds a partial sum the kernel finishes later (Linux
/// CHECKSUM_PARTIAL / NFQA_SKB_CSUMNOTREADY): the field is the folded,
/// uncomplemented pseudo-header sum, so a change is added, not complemented.
inline uint16_t update_partial32(uint16_t field, uint32_t old_value,
                                 uint32_t new_value) {
  uint32_t sum = field;
  sum += static_cast<uint16_t>(~(old_value >> 16));
  sum += static_cast<uint16_t>(~old_value);
  sum += new_value >> 16;
  sum += new_value & 0xffffu;
  return fold(sum);
}

} // namespace drover::net
