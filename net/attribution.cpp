#include "net/attribution.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"

namespace drover::net {

port_owners::port_owners() : tcp_(65536), udp_(65536) {}

port_owners::entry* port_owners::slot(uint8_t protocol, uint16_t port) {
  if (protocol == proto_tcp)
    return &tcp_[port];
  if (protocol == proto_udp)
    return &udp_[port];
  return nullptr;
}

void port_owners::opened(uint8_t protocol, uint16_t port, uint32_t pid) {
  auto* e = slot(protocol, port);
  if (e == nullptr || port == 0)
    return;
  bool system = pid == 0 || pid == 4;
  if (system && e->pid != 0 && e->pid != pid && !e->closed)
    return; // the kernel's own hold on an application's socket
  e->pid = pid;
  e->closed = false;
  e->nobody_until = {};
}

void port_owners::unowned(uint8_t protocol, uint16_t port, flow_time now) {
  auto* e = slot(protocol, port);
  if (e != nullptr && port != 0 && owner(protocol, port, now) == 0)
    e->nobody_until = now + nobody_for;
}

void port_owners::closed(uint8_t protocol, uint16_t port, uint32_t pid,
                         flow_time now) {
  auto* e = slot(protocol, port);
  if (e == nullptr || e->pid != pid || e->closed)
    return;
  e->closed = true;
  e->closed_at = now;
}

uint32_t port_owners::owner(uint8_t protocol, uint16_t port,
                            flow_time now) const {
  const std::vector<entry>* table = protocol == proto_tcp   ? &tcp_
                                    : protocol == proto_udp ? &udp_
                                                            : nullptr;
  if (table == nullptr)
    return 0;
  auto& e = (*table)[port];
  if (e.pid != 0 && !(e.closed && now - e.closed_at > linger))
    return e.pid;
  return now < e.nobody_until ? nobody : 0;
}

uint16_t source_port(const uint8_t* data, size_t length, uint8_t& protocol) {
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
    protocol = data[6]; // extension headers are not followed
  } else {
    return 0;
  }
  if ((protocol != proto_tcp && protocol != proto_udp) || l4 < 20
      || length < l4 + 4)
    return 0;
  return load16(data + l4);
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
