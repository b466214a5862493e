#pragma once

// The messages between the emulated WinDivert driver's packet side
// (tests/support/windivert_emulator.cpp, native) and the WinDivert.dll
// emulator in drover.exe under wine (tests/windows/fake_windivert.cpp):
// length-prefixed records on one loopback TCP connection, little-endian
// (both ends run on this x86-64 machine).
//   packet   daemon -> DLL: a queued outbound packet and what its
//            WINDIVERT_ADDRESS carries
//   verdict  DLL -> daemon: a packet was taken by a handle, or passes
//   inject   DLL -> daemon: a packet a handle sent, with its direction and
//            which checksums its address says are right

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace drover::test::windivert_bridge {

constexpr uint8_t kind_packet = 1;
constexpr uint8_t kind_verdict = 2;
constexpr uint8_t kind_inject = 3;

// A record: u32 total length (these 5 bytes included), u8 kind, body.
constexpr size_t record_header = 5;
constexpr size_t max_message = record_header + 16 + 0xffff + 40;

#pragma pack(push, 1)
struct packet_header {
  uint32_t id = 0;      // the queue's packet ID, answered by a verdict
  uint8_t loopback = 0; // from this host to itself
  uint32_t if_idx = 0;  // the interface it leaves by
};
struct verdict_body {
  uint32_t id = 0;
  uint8_t taken = 0; // 1: a handle took it (gone); 0: it passes
};
constexpr uint8_t ip_checksum_ok = 1, tcp_checksum_ok = 2, udp_checksum_ok = 4,
                  all_checksums = 7;
struct inject_header {
  uint8_t outbound = 1;
  uint8_t checksums = 0; // *_checksum_ok bits, from the address
  uint32_t if_idx = 0;
};
#pragma pack(pop)

template<class Header>
void append(std::string& out, uint8_t kind, const Header& h,
            const void* payload = nullptr, size_t payload_length = 0) {
  uint32_t total
      = static_cast<uint32_t>(record_header + sizeof h + payload_length);
  out.append(reinterpret_cast<const char*>(&total), sizeof total);
  out.push_back(static_cast<char>(kind));
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  if (payload_length > 0)
    out.append(static_cast<const char*>(payload), payload_length);
}

struct message {
  uint8_t kind = 0;
  uint8_t* body = nullptr;
  size_t body_length = 0;
  size_t total = 0; // bytes of the stream it takes
};

/// The first complete record of `data`; false while it is incomplete (or
/// malformed: a length beyond max_message never completes, and the reader
/// gives up on a stream that grows past it).
inline bool next(uint8_t* data, size_t length, message& m) {
  if (length < record_header)
    return false;
  uint32_t total;
  std::memcpy(&total, data, sizeof total);
  if (total < record_header || total > max_message || total > length)
    return false;
  m.kind = data[4];
  m.body = data + record_header;
  m.body_length = total - record_header;
  m.total = total;
  return true;
}

} // namespace drover::test::windivert_bridge
