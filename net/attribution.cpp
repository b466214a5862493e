#include "net/attribution.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "net/bytes.hpp"

namespace drover::net {

namespace {

constexpr uint8_t ipv6_fragment = 44;
constexpr uint8_t ipv6_authentication = 51;

bool is_ipv6_extension(uint8_t next_header) {
  // Hop-by-hop options, routing, fragment, authentication, destination
  // options, mobility (RFC 8200 4.1, RFC 4302, RFC 6275): the headers
  // WinDivert's driver steps over to find the transport.
  return next_header == 0 || next_header == 43 || next_header == ipv6_fragment
         || next_header == ipv6_authentication || next_header == 60
         || next_header == 135;
}

size_t ipv6_extension_length(uint8_t type, const uint8_t* header) {
  if (type == ipv6_fragment)
    return 8;
  if (type == ipv6_authentication)
    return (size_t{header[1]} + 2) * 4; // in 4-byte words
  return (size_t{header[1]} + 1) * 8; // in 8-byte words, the first not counted
}

} // namespace

uint64_t remote_key(const uint8_t* address, size_t address_length,
                    uint16_t port) {
  // FNV-1a: only ever compared for equality between the sockets of one
  // local port.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (size_t i = 0; i < address_length; ++i)
    mix(address[i]);
  mix(static_cast<uint8_t>(port >> 8));
  mix(static_cast<uint8_t>(port));
  return h == 0 ? 1 : h;
}

uint64_t remote_key_v4(uint32_t address, uint16_t port) {
  uint8_t bytes[4];
  store32(bytes, address);
  return remote_key(bytes, sizeof bytes, port);
}

port_owners::port_owners()
    : tcp_(65536), udp_(65536), shared_(shared_capacity) {}

port_owners::entry* port_owners::slot(uint8_t protocol, uint16_t port) {
  return const_cast<entry*>(std::as_const(*this).slot(protocol, port));
}

const port_owners::entry* port_owners::slot(uint8_t protocol,
                                            uint16_t port) const {
  if (protocol == proto_tcp)
    return &tcp_[port];
  if (protocol == proto_udp)
    return &udp_[port];
  return nullptr;
}

const port_owners::shared_socket*
port_owners::shared_socket_of(uint8_t protocol, uint16_t port,
                              uint64_t remote) const {
  for (auto& s : shared_)
    if (s.pid != 0 && s.protocol == protocol && s.port == port
        && s.remote == remote)
      return &s;
  return nullptr;
}

void port_owners::remember_shared(uint8_t protocol, uint16_t port, uint32_t pid,
                                  uint64_t remote) {
  shared_socket* free = nullptr;
  shared_socket* oldest_closed = nullptr;
  for (auto& s : shared_) {
    if (s.pid != 0 && s.protocol == protocol && s.port == port
        && s.remote == remote) {
      if (s.pid != pid || s.closed)
        s.captured = false; // another socket
      s.pid = pid;
      s.closed = false;
      return;
    }
    if (s.pid == 0 && free == nullptr)
      free = &s;
    else if (s.pid != 0 && s.closed
             && (oldest_closed == nullptr
                 || s.closed_at < oldest_closed->closed_at))
      oldest_closed = &s;
  }
  // Full of open sockets (256 shared at once): the newest owner of the
  // port stands for the others, as without this table.
  auto* s = free != nullptr ? free : oldest_closed;
  if (s != nullptr)
    *s = {remote, {}, pid, port, protocol, false, false};
}

void port_owners::forget_shared(uint8_t protocol, uint16_t port) {
  for (auto& s : shared_)
    if (s.protocol == protocol && s.port == port)
      s = {};
}

void port_owners::opened(uint8_t protocol, uint16_t port, uint32_t pid,
                         uint64_t remote) {
  auto* e = slot(protocol, port);
  if (e == nullptr || port == 0 || (pid == 0 && e->pid != 0))
    return;
  bool system = pid == 0 || pid == 4;
  if (system && e->pid != 0 && e->pid != pid && !e->closed)
    return; // the kernel's own hold on an application's socket
  bool open = e->pid != 0 && !e->closed;
  if (open && e->pid != pid && remote != 0 && e->remote != 0
      && e->remote != remote) {
    // Another process's socket on the same port, to another remote: each
    // socket keeps its owner.
    remember_shared(protocol, port, e->pid, e->remote);
    e->shared = true;
    if (e->captured)
      captured(protocol, port, e->remote); // its mark goes with it
  }
  if (e->shared) {
    if (remote != 0)
      remember_shared(protocol, port, pid, remote);
    else if (!open) {
      e->shared = false; // bound anew once the sharers had closed
      forget_shared(protocol, port);
    }
  }
  // The same socket seen again (bound, then connected; or an event after
  // its first packet), or the System process holding a closed socket's
  // connection, keeps its mark; another socket starts without.
  bool same_socket
      = (open && e->pid == pid
         && (e->remote == remote || e->remote == 0 || remote == 0))
        || (pid == 4 && e->closed && remote != 0 && e->remote == remote);
  if (!same_socket)
    e->captured = false;
  e->pid = pid;
  e->closed = false;
  e->remote = remote;
  e->nobody_until = {};
  if (pid != 0) // an owner named (a PID 0 row names none: Wine's, say)
    e->unowned_tried = false;
}

void port_owners::unowned(uint8_t protocol, uint16_t port, flow_time now) {
  auto* e = slot(protocol, port);
  if (e != nullptr && port != 0 && owner(protocol, port, now) == 0)
    e->nobody_until = now + nobody_for;
}

bool port_owners::hold_back_unowned(uint8_t protocol, uint16_t port,
                                    flow_time now) {
  auto* e = slot(protocol, port);
  if (e == nullptr || port == 0)
    return false;
  if (!e->unowned_tried || now - e->unowned_at >= unowned_forgotten) {
    e->unowned_tried = true;
    e->unowned_at = now;
    return true;
  }
  return now - e->unowned_at < unowned_retry;
}

void port_owners::closed(uint8_t protocol, uint16_t port, uint32_t pid,
                         flow_time now, uint64_t remote) {
  auto* e = slot(protocol, port);
  if (e == nullptr)
    return;
  if (e->shared)
    for (auto& s : shared_)
      if (s.pid == pid && s.protocol == protocol && s.port == port
          && (remote == 0 || s.remote == remote) && !s.closed) {
        s.closed = true;
        s.closed_at = now;
      }
  if (e->pid != pid || e->closed)
    return;
  e->closed = true;
  e->closed_at = now;
}

uint32_t port_owners::owner(uint8_t protocol, uint16_t port, flow_time now,
                            uint64_t remote) const {
  auto* found = slot(protocol, port);
  if (found == nullptr)
    return 0;
  auto& e = *found;
  if (e.shared && remote != 0)
    if (auto* s = shared_socket_of(protocol, port, remote);
        s != nullptr && !(s->closed && now - s->closed_at > linger))
      return s->pid;
  if (e.pid != 0 && !(e.closed && now - e.closed_at > linger))
    return e.pid;
  return now < e.nobody_until ? nobody : 0;
}

void port_owners::captured(uint8_t protocol, uint16_t port, uint64_t remote) {
  auto* e = slot(protocol, port);
  if (e == nullptr || port == 0)
    return;
  if (e->shared && remote != 0)
    if (auto* s = shared_socket_of(protocol, port, remote)) {
      const_cast<shared_socket*>(s)->captured = true;
      return;
    }
  e->captured = true;
}

bool port_owners::was_captured(uint8_t protocol, uint16_t port,
                               uint64_t remote) const {
  auto* e = slot(protocol, port);
  if (e == nullptr)
    return false;
  if (e->shared && remote != 0)
    if (auto* s = shared_socket_of(protocol, port, remote))
      return s->captured;
  return e->captured;
}

uint16_t source_port(const uint8_t* data, size_t length, uint8_t& protocol) {
  uint64_t remote = 0;
  return source_port(data, length, protocol, remote);
}

namespace {

// Where the transport header of an outbound packet starts, as WinDivert's
// filter finds it (0: none Drover can read: a later fragment, another
// protocol, a truncated header); `protocol` is set either way.
size_t transport_offset(const uint8_t* data, size_t length, uint8_t& protocol) {
  protocol = 0;
  if (length < 1)
    return 0;
  size_t l4 = 0;
  if (data[0] >> 4 == 4) {
    if (length < 20)
      return 0;
    l4 = size_t{data[0] & 0x0fu} * 4;
    protocol = data[9];
    // A later fragment has no transport header.
    if ((load16(data + 6) & 0x1fffu) != 0)
      return 0;
  } else if (data[0] >> 4 == 6) {
    if (length < 40)
      return 0;
    l4 = 40;
    protocol = data[6];
    // WinDivert's filter finds TCP and UDP behind extension headers, so
    // the port must too: a target's segment behind a hop-by-hop header
    // read as portless would be let out. The walk is the driver's: one
    // fragment header at most, each header at least 8 bytes (so the packet
    // bounds it), a later fragment without a transport header.
    bool fragment = false;
    while (is_ipv6_extension(protocol) && length >= l4 + 8) {
      const uint8_t* h = data + l4;
      if (protocol == ipv6_fragment) {
        if (fragment)
          break;
        fragment = true;
        if ((load16(h + 2) & 0xfff8u) != 0)
          return 0;
      }
      l4 += ipv6_extension_length(protocol, h);
      protocol = h[0];
    }
  } else {
    return 0;
  }
  if ((protocol != proto_tcp && protocol != proto_udp) || l4 < 20
      || length < l4 + 4)
    return 0;
  return l4;
}

} // namespace

uint16_t source_port(const uint8_t* data, size_t length, uint8_t& protocol,
                     uint64_t& remote) {
  remote = 0;
  size_t l4 = transport_offset(data, length, protocol);
  if (l4 == 0)
    return 0;
  bool v4 = data[0] >> 4 == 4;
  remote
      = remote_key(data + (v4 ? 16 : 24), v4 ? 4 : 16, load16(data + l4 + 2));
  return load16(data + l4);
}

packet_socket socket_of(const uint8_t* data, size_t length) {
  packet_socket s;
  s.port = source_port(data, length, s.protocol, s.remote);
  return s;
}

bool mid_connection(const uint8_t* data, size_t length) {
  uint8_t protocol = 0;
  size_t l4 = transport_offset(data, length, protocol);
  if (l4 == 0 || protocol != proto_tcp || length < l4 + 14)
    return false;
  return (data[l4 + 13] & 0x02u) == 0; // no SYN
}

held_packets::held_packets(size_t slots, size_t meta_bytes)
    : meta_bytes_(meta_bytes), bytes_(slots * slot_bytes),
      metas_(slots * meta_bytes) {
  free_.reserve(slots);
  order_.reserve(slots);
  for (size_t i = slots; i-- > 0;)
    free_.push_back(static_cast<uint32_t>(i));
}

bool held_packets::hold(uint8_t protocol, uint16_t port, const uint8_t* data,
                        uint32_t length, const void* meta, flow_time deadline) {
  if (free_.empty() || length > slot_bytes)
    return false;
  auto s = free_.back();
  free_.pop_back();
  std::memcpy(bytes_.data() + size_t{s} * slot_bytes, data, length);
  if (meta_bytes_ > 0)
    std::memcpy(metas_.data() + size_t{s} * meta_bytes_, meta, meta_bytes_);
  order_.push_back({protocol, port, length, deadline, s});
  return true;
}

const uint8_t* held_packets::data(const held& h) const {
  return bytes_.data() + size_t{h.slot} * slot_bytes;
}

const void* held_packets::meta(const held& h) const {
  return metas_.data() + size_t{h.slot} * meta_bytes_;
}

flow_time held_packets::next_deadline() const {
  auto it = std::min_element(
      order_.begin(), order_.end(),
      [](const held& a, const held& b) { return a.deadline < b.deadline; });
  return it->deadline;
}

} // namespace drover::net
