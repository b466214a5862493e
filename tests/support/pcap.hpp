#pragma once

// Reads the IP packets of a little-endian pcap file with Ethernet framing
// (what tcpdump writes on a veth), for tests that use real captured bytes.

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace drover::test {

inline std::vector<std::vector<uint8_t>> read_pcap(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> file{std::istreambuf_iterator<char>{in}, {}};
  auto u32 = [&](size_t at) {
    return uint32_t{file.at(at)} | uint32_t{file.at(at + 1)} << 8
           | uint32_t{file.at(at + 2)} << 16 | uint32_t{file.at(at + 3)} << 24;
  };
  if (file.size() < 24 || u32(0) != 0xa1b2c3d4u || u32(20) != 1)
    throw std::runtime_error(path + ": not a little-endian Ethernet pcap");
  std::vector<std::vector<uint8_t>> packets;
  size_t at = 24;
  while (at + 16 <= file.size()) {
    size_t len = u32(at + 8);
    at += 16;
    if (at + len > file.size() || len < 14)
      throw std::runtime_error(path + ": truncated record");
    auto ethertype = (file[at + 12] << 8) | file[at + 13];
    if (ethertype == 0x0800 || ethertype == 0x86dd)
      packets.emplace_back(file.begin() + static_cast<long>(at + 14),
                           file.begin() + static_cast<long>(at + len));
    at += len;
  }
  return packets;
}

inline std::vector<std::vector<uint8_t>> fixtures(const std::string& name) {
  return read_pcap(std::string{DROVER_TEST_DATA} + "/" + name);
}

} // namespace drover::test
