#pragma once

// An IPv6 TCP segment made by hand, for tests of what answers a target's
// IPv6 (the fixtures' captures hold IPv6 UDP only). Its checksum is summed
// here, on its own, so a test can also check the engine's sums against it.

#include <array>
#include <cstdint>
#include <vector>

namespace drover::test {

using ipv6_bytes = std::array<uint8_t, 16>;

/// fd78::`last`
inline ipv6_bytes ula(uint8_t last) {
  return {0xfd, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

/// RFC 8200 8.1: the checksum over the pseudo-header (next header
/// `next_header`) and the bytes after the fixed header, as found in the
/// packet (0 when they verify).
inline uint16_t ipv6_l4_sum(const std::vector<uint8_t>& packet,
                            uint8_t next_header) {
  uint32_t sum = 0;
  auto add = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; i += 2)
      sum += uint32_t(packet[i]) << 8 | (i + 1 < to ? packet[i + 1] : 0u);
  };
  add(8, 40);
  sum += uint32_t(packet.size() - 40) + next_header;
  add(40, packet.size());
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

/// The TCP checksum of an IPv6 segment (0 when it verifies).
inline uint16_t ipv6_tcp_sum(const std::vector<uint8_t>& packet) {
  return ipv6_l4_sum(packet, 6);
}

/// A segment from `src`:`sport` to `dst`:`dport` with `flags`, `seq`,
/// `ack` and `payload` bytes of 'x'; `next_header` 6 unless a test wants
/// an extension header's number there.
inline std::vector<uint8_t> ipv6_tcp_segment(ipv6_bytes src, uint16_t sport,
                                             ipv6_bytes dst, uint16_t dport,
                                             uint8_t flags, uint32_t seq,
                                             uint32_t ack, size_t payload = 0,
                                             uint8_t next_header = 6) {
  std::vector<uint8_t> p(60 + payload, 'x');
  auto put16 = [&](size_t at, uint32_t v) {
    p[at] = uint8_t(v >> 8);
    p[at + 1] = uint8_t(v);
  };
  auto put32 = [&](size_t at, uint32_t v) {
    put16(at, v >> 16);
    put16(at + 2, v & 0xffff);
  };
  std::fill(p.begin(), p.begin() + 60, 0);
  p[0] = 0x60;
  put16(4, uint32_t(20 + payload));
  p[6] = next_header;
  p[7] = 64;
  std::copy(src.begin(), src.end(), p.begin() + 8);
  std::copy(dst.begin(), dst.end(), p.begin() + 24);
  put16(40, sport);
  put16(42, dport);
  put32(44, seq);
  put32(48, ack);
  p[52] = 5 << 4;
  p[53] = flags;
  put16(54, 65535);
  put16(56, ipv6_tcp_sum(p));
  return p;
}

} // namespace drover::test
