#pragma once

// IPv4 / TCP / UDP packets as raw bytes: parse with bounds checks against
// both the buffer and the headers' own lengths, rewrite addresses and ports
// in place with incremental checksums, and build UDP datagrams from scratch.
// IPv6 is recognised (so it can be blocked), not parsed further; a reset
// can answer an IPv6 TCP segment. No allocation anywhere.

#include <cstddef>
#include <cstdint>

#include "net/ipv4.hpp"

namespace drover::net {

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;

/// The largest packet handled: an IPv4 datagram can be 64 KiB, and Linux
/// hands over GSO super-packets up to that size.
constexpr size_t max_packet_size = 65535;

enum class parse_error : uint8_t {
  none,
  empty,                // zero bytes
  unknown_version,      // neither IPv4 nor IPv6
  bad_header_length,    // IHL < 5 or beyond the buffer
  bad_total_length,     // total length < header, or beyond the buffer
  bad_transport_header, // TCP/UDP header missing or inconsistent
};

const char* to_string(parse_error e);

/// Whether the L4 checksum field is complete or a partial sum that the
/// kernel finishes (Linux CHECKSUM_PARTIAL, e.g. GSO super-packets).
enum class checksum_state : uint8_t { complete, partial };

struct endpoint {
  ipv4_address ip;
  uint16_t port = 0;

  friend bool operator==(const endpoint& a, const endpoint& b) {
    return a.ip == b.ip && a.port == b.port;
  }
  friend bool operator!=(const endpoint& a, const endpoint& b) {
    return !(a == b);
  }
};

/// What parse() found. Offsets are from the start of the packet.
struct packet_info {
  uint8_t ip_version = 0; // 4 or 6
  uint8_t protocol = 0;   // IPv4 protocol / IPv6 next header
  uint16_t ip_header_length = 0;
  uint16_t total_length = 0; // from the header; may be less than the buffer
  bool fragment = false;     // IPv4 MF set or fragment offset != 0
  bool has_ports = false;    // a TCP/UDP header was parsed
  endpoint src;
  endpoint dst;
  uint16_t l4_offset = 0;
  uint16_t payload_offset = 0;
  uint16_t payload_length = 0;
  uint8_t tcp_flags = 0;

  bool is_tcp() const { return protocol == proto_tcp && has_ports; }
  bool is_udp() const { return protocol == proto_udp && has_ports; }
};

namespace tcp_flag {
constexpr uint8_t fin = 0x01;
constexpr uint8_t syn = 0x02;
constexpr uint8_t rst = 0x04;
constexpr uint8_t ack = 0x10;
} // namespace tcp_flag

/// Parses a packet. On success the info is filled in; bytes past the
/// header's total length are ignored. Non-first IPv4 fragments carry no
/// transport header (has_ports = false).
parse_error parse(const uint8_t* data, size_t length, packet_info& info);

/// The UDP datagram an ICMP "port unreachable" quotes: who sent it and
/// the closed port it was refused at.
struct refused_datagram {
  endpoint src;
  endpoint dst;
  uint16_t ip_id = 0; // the refused datagram's IPv4 identification
};

/// The IPv4 identification of every datagram Drover delivers to a target
/// as if its remote had sent it ("DR"): the answer of an application's
/// stack to one of them (a "port unreachable", its socket closed) is
/// recognised by it, in the rules and in the engine, without knowing the
/// flow yet. Those datagrams never leave the machine (lo's MTU: never
/// fragmented), so one identification for all is harmless.
constexpr uint16_t delivered_ip_id = 0x4452;

/// True if the parsed packet is an IPv4 ICMP destination unreachable, port
/// unreachable (type 3, code 3) quoting a UDP datagram's header, which then
/// fills `out`. Everything is checked against the packet's own lengths.
bool parse_port_unreachable(const uint8_t* data, const packet_info& info,
                            refused_datagram& out);

/// A parsed IPv4 packet that can be rewritten in place.
struct packet_ref {
  uint8_t* data;
  packet_info info;
  checksum_state l4_checksum = checksum_state::complete;
};

/// Rewrites the source or destination address and port, updating the IPv4
/// header checksum and the TCP/UDP checksum incrementally (RFC 1624). A
/// partial L4 checksum is kept partial (only its pseudo-header part moves).
/// A UDP checksum of zero ("none") stays zero.
void set_source(packet_ref& p, endpoint e);
void set_destination(packet_ref& p, endpoint e);

/// Recomputes the IPv4 header checksum and the complete TCP/UDP checksum.
void recompute_checksums(uint8_t* data, const packet_info& info);

/// True if the IPv4 header checksum and the (complete) TCP/UDP checksum are
/// right. A UDP checksum of zero counts as right.
bool checksums_valid(const uint8_t* data, const packet_info& info);

/// Writes an IPv4+UDP datagram from `src` to `dst` carrying `payload` into
/// `out` with all checksums set. Returns its length, or 0 if it does not
/// fit in `capacity` or in an IPv4 datagram.
size_t build_ipv4_udp(uint8_t* out, size_t capacity, endpoint src, endpoint dst,
                      const uint8_t* payload, size_t payload_length,
                      uint16_t ip_id, uint8_t ttl = 64);

/// Sets the TCP or UDP checksum of an IPv6 packet of `length` bytes whose
/// transport header follows the fixed header (RFC 8200 8.1: over both
/// addresses, the upper-layer length and the next header); a UDP sum of
/// zero is sent as 0xffff. Other next headers, or too short: untouched.
void set_ipv6_l4_checksum(uint8_t* packet, size_t length);

/// Writes the TCP reset that answers the TCP segment `data` (parsed as
/// `info`) as its peer would (RFC 793 "Reset Generation"): from the
/// segment's destination to its source, RST+ACK acknowledging a SYN's
/// sequence number, or RST with the segment's ACK as sequence number. An
/// IPv6 segment (TCP right after the fixed header) gets an IPv6 reset, so
/// a target's IPv6 connection fails at once and it falls back to IPv4.
/// Returns its length (40, or 60 for IPv6), or 0 if `capacity` is too
/// small, the segment is no TCP, is malformed or is itself a reset (never
/// answered).
size_t build_tcp_reset(uint8_t* out, size_t capacity, const uint8_t* data,
                       const packet_info& info);

/// Writes the ICMPv6 "destination unreachable: port unreachable" (RFC 4443
/// 3.1, type 1 code 4) that answers the IPv6 UDP datagram `data` (parsed as
/// `info`) as its remote would: from the datagram's destination to its
/// source, quoting as much of it as keeps the answer within IPv6's minimum
/// MTU. The application's stack reports it on the socket that sent the
/// datagram ("connection refused"; Windows: WSAECONNRESET), so a target's
/// IPv6 UDP fails at once and it uses IPv4. `out` may not overlap `data`.
/// Returns its length, or 0 if `capacity` is too small, `data` is no UDP
/// right after the fixed header or went to a multicast group.
size_t build_icmp6_port_unreachable(uint8_t* out, size_t capacity,
                                    const uint8_t* data,
                                    const packet_info& info);

/// The same for an IPv4 UDP datagram (RFC 792, type 3 code 3), quoting as
/// much of it as keeps the answer within 576 bytes (RFC 1812 4.3.2.3):
/// what a blocked program's datagram meets. 0 also for a datagram to a
/// multicast group or the broadcast address, or a fragment after the
/// first (no UDP header: unanswered).
size_t build_icmp_port_unreachable(uint8_t* out, size_t capacity,
                                   const uint8_t* data,
                                   const packet_info& info);

} // namespace drover::net
