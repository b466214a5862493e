#pragma once

// The packet tests' helpers: the real captured packets of tests/data (in
// the order capture-fixtures.sh produces them), parsed, and what the
// kernel does to finish a partial checksum. Shared by packet_test.cpp and
// packet_answers_test.cpp.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/bytes.hpp"
#include "net/checksum.hpp"
#include "net/packet.hpp"
#include "tests/support/pcap.hpp"

namespace drover::test::packet_world {

using namespace drover::net;
using bytes = std::vector<uint8_t>;

// The order tests/data/capture-fixtures.sh produces.
enum fixture : size_t {
  tcp_syn,
  tcp_ack,
  tcp_data,
  tcp_fin,
  tcp_last_ack,
  udp_small,
  udp_frag_first,
  udp_frag_middle,
  udp_frag_last,
  udp6,
  fixture_count,
};

// An IPv6 packet cut short, with its header's payload length saying so
// (parse() refuses one that claims more than the buffer holds).
inline void set_payload_length_to_fit(bytes& p) {
  store16(p.data() + 4, static_cast<uint16_t>(p.size() - 40));
}

inline const std::vector<bytes>& complete() {
  static auto packets = drover::test::fixtures("fixtures-complete.pcap");
  return packets;
}

inline const std::vector<bytes>& partial() {
  static auto packets = drover::test::fixtures("fixtures-partial.pcap");
  return packets;
}

inline endpoint ep(const char* ip, uint16_t port) {
  return {*parse_ipv4(ip), port};
}

inline packet_info parsed(const bytes& b) {
  packet_info info;
  EXPECT_EQ(parse(b.data(), b.size(), info), parse_error::none);
  return info;
}

inline std::string payload_of(const bytes& b, const packet_info& info) {
  return {reinterpret_cast<const char*>(b.data() + info.payload_offset),
          info.payload_length};
}

inline uint16_t l4_checksum_field(const bytes& b, const packet_info& info) {
  return load16(b.data() + info.l4_offset
                + (info.protocol == proto_tcp ? 16 : 6));
}

// What the kernel does to finish a partial checksum: sum the transport
// header and data (the field holds the pseudo-header sum) and complement.
inline void finish_partial(bytes& b, const packet_info& info) {
  auto at = info.l4_offset + (info.protocol == proto_tcp ? 16u : 6u);
  auto sum = sum_bytes(b.data() + info.l4_offset,
                       info.total_length - info.l4_offset);
  store16(b.data() + at, finish(sum));
}

} // namespace drover::test::packet_world
