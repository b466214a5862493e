#include "net/flow_table.hpp"

#include <cassert>

namespace drover::net {

namespace {

// splitmix64's finaliser: a cheap hash with good avalanche.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t hash_key(const flow_key& k) {
  auto addrs = (uint64_t{k.src.ip.value} << 32) | k.dst.ip.value;
  auto ports
      = (uint64_t{k.src.port} << 24) | (uint64_t{k.dst.port} << 8) | k.protocol;
  return mix(addrs ^ mix(ports));
}

uint64_t hash_peer(endpoint e) {
  return mix((uint64_t{e.ip.value} << 16) | e.port);
}

size_t table_size_for(uint32_t max_flows) {
  size_t n = 16;
  while (n < size_t{max_flows} * 2)
    n <<= 1;
  return n;
}

constexpr uint32_t loopback_first = 0x7f000001; // 127.0.0.1
constexpr uint32_t loopback_last = 0x7ffffffe;  // 127.255.255.254

} // namespace

flow_table::flow_table(const options& opts)
    : opts_(opts), entries_(opts.max_flows),
      by_key_(table_size_for(opts.max_flows)),
      by_peer_(table_size_for(opts.max_flows)),
      mask_(table_size_for(opts.max_flows) - 1) {
  assert(opts.max_flows > 0);
  free_.reserve(opts.max_flows);
  for (uint32_t i = opts.max_flows; i > 0; --i)
    free_.push_back(i - 1);
}

size_t flow_table::key_slot(const flow_key& key) const {
  return static_cast<size_t>(hash_key(key)) & mask_;
}

size_t flow_table::peer_slot(endpoint peer) const {
  return static_cast<size_t>(hash_peer(peer)) & mask_;
}

flow_entry* flow_table::find(const flow_key& key) {
  for (size_t s = key_slot(key);; s = (s + 1) & mask_) {
    auto v = by_key_[s];
    if (v == 0)
      return nullptr;
    if (entries_[v - 1].key == key)
      return &entries_[v - 1];
  }
}

flow_entry* flow_table::find_by_listener_peer(endpoint peer) {
  for (size_t s = peer_slot(peer);; s = (s + 1) & mask_) {
    auto v = by_peer_[s];
    if (v == 0)
      return nullptr;
    if (entries_[v - 1].listener_peer == peer)
      return &entries_[v - 1];
  }
}

bool flow_table::choose_listener_peer(flow_entry& e) {
  if (e.key.protocol != proto_tcp) {
    e.listener_peer = {};
    return true;
  }
  if (opts_.shape == nat_shape::reflection) {
    e.listener_peer = reflection_peer(e.key.src, e.key.dst);
    return find_by_listener_peer(e.listener_peer) == nullptr
           && e.listener_peer != opts_.listener;
  }
  // Loopback: keep the application's port and pick the first alias address
  // in 127.0.0.0/8 that no other flow uses with that port. At most size_
  // candidates can be taken, so the loop is bounded by the table size.
  endpoint candidate{ipv4_address{loopback_first}, e.key.src.port};
  for (size_t tries = 0; tries <= size_ + 1; ++tries) {
    if (candidate != opts_.listener
        && find_by_listener_peer(candidate) == nullptr) {
      e.listener_peer = candidate;
      return true;
    }
    if (candidate.ip.value == loopback_last)
      break;
    ++candidate.ip.value;
  }
  return false;
}

flow_entry* flow_table::insert_free(const flow_key& key, flow_time now) {
  assert(find(key) == nullptr);
  if (free_.empty())
    return nullptr;
  auto idx = free_.back();
  auto& e = entries_[idx];
  e.key = key;
  if (!choose_listener_peer(e))
    return nullptr;
  free_.pop_back();
  e.id = next_id_++;
  e.created = now;
  e.last_seen = now;
  e.bytes_in = 0;
  e.bytes_out = 0;
  e.cookie = 0;
  e.pid = 0;
  e.direct = false;
  e.relayed = false;
  e.in_use_ = true;
  e.closing_ = false;
  index_insert(by_key_, key_slot(key), idx + 1);
  if (key.protocol == proto_tcp)
    index_insert(by_peer_, peer_slot(e.listener_peer), idx + 1);
  link_tail(e);
  ++size_;
  return &e;
}

void flow_table::touch(flow_entry& e, flow_time now) {
  e.last_seen = now;
  unlink(e);
  link_tail(e);
}

void flow_table::mark_closing(flow_entry& e, flow_time now) {
  unlink(e);
  e.closing_ = true;
  e.last_seen = now;
  link_tail(e);
}

void flow_table::erase(flow_entry& e) {
  assert(e.in_use_);
  auto value = index_of(e) + 1;
  for (size_t s = key_slot(e.key);; s = (s + 1) & mask_) {
    if (by_key_[s] == value) {
      index_erase(by_key_, s, true);
      break;
    }
  }
  if (e.key.protocol == proto_tcp) {
    for (size_t s = peer_slot(e.listener_peer);; s = (s + 1) & mask_) {
      if (by_peer_[s] == value) {
        index_erase(by_peer_, s, false);
        break;
      }
    }
  }
  unlink(e);
  e.in_use_ = false;
  free_.push_back(value - 1);
  --size_;
}

flow_entry* flow_table::oldest() {
  flow_entry* best = nullptr;
  for (auto head : heads_)
    if (head != 0
        && (best == nullptr || entries_[head - 1].last_seen < best->last_seen))
      best = &entries_[head - 1];
  return best;
}

void flow_table::link_tail(flow_entry& e) {
  int list = list_of(e);
  auto value = index_of(e) + 1;
  e.prev_ = tails_[list];
  e.next_ = 0;
  if (tails_[list] != 0)
    entries_[tails_[list] - 1].next_ = value;
  else
    heads_[list] = value;
  tails_[list] = value;
}

void flow_table::unlink(flow_entry& e) {
  int list = list_of(e);
  if (e.prev_ != 0)
    entries_[e.prev_ - 1].next_ = e.next_;
  else
    heads_[list] = e.next_;
  if (e.next_ != 0)
    entries_[e.next_ - 1].prev_ = e.prev_;
  else
    tails_[list] = e.prev_;
  e.prev_ = e.next_ = 0;
}

void flow_table::index_insert(std::vector<uint32_t>& table, size_t home,
                              uint32_t value) {
  for (size_t s = home;; s = (s + 1) & mask_) {
    if (table[s] == 0) {
      table[s] = value;
      return;
    }
  }
}

void flow_table::index_erase(std::vector<uint32_t>& table, size_t slot,
                             bool by_key) {
  // Backward-shift deletion keeps every probe chain unbroken without
  // tombstones.
  size_t hole = slot;
  for (size_t s = (hole + 1) & mask_; table[s] != 0; s = (s + 1) & mask_) {
    auto& moved = entries_[table[s] - 1];
    size_t home = by_key ? key_slot(moved.key) : peer_slot(moved.listener_peer);
    // The element at s may fill the hole unless its home lies cyclically
    // in (hole, s].
    bool home_after_hole
        = hole <= s ? (home > hole && home <= s) : (home > hole || home <= s);
    if (!home_after_hole) {
      table[hole] = table[s];
      hole = s;
    }
  }
  table[hole] = 0;
}

} // namespace drover::net
