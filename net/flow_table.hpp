#pragma once

// The NAT / flow table: every proxied flow, keyed by protocol and the full
// 4-tuple, with a second index by the address the local listener sees as
// the peer. Single-threaded by design (the flow-manager owns it). All memory
// is allocated in the constructor: inserting, finding, touching, erasing
// and sweeping allocate nothing.
//
// Idle flows expire after a per-protocol TTL; each protocol keeps its flows
// in an intrusive list ordered by last activity, so a sweep costs
// O(expired). At the flow cap the least recently active flow is evicted and
// counted.

#include <chrono>
#include <cstdint>
#include <vector>

#include "net/nat.hpp"

namespace drover::net {

using flow_clock = std::chrono::steady_clock;
using flow_time = flow_clock::time_point;

struct flow_key {
  uint8_t protocol = 0; // proto_tcp or proto_udp
  endpoint src;         // the application's socket
  endpoint dst;         // the original destination

  friend bool operator==(const flow_key& a, const flow_key& b) {
    return a.protocol == b.protocol && a.src == b.src && a.dst == b.dst;
  }
};

struct flow_entry {
  flow_key key;
  endpoint listener_peer; // TCP: the listener's view of the application
  uint64_t id = 0;        // unique for the table's lifetime
  flow_time created;
  flow_time last_seen;
  uint64_t bytes_in = 0;  // towards the application
  uint64_t bytes_out = 0; // from the application
  uint64_t cookie = 0;    // the owner's own data (e.g. a session slot)
  uint32_t pid = 0;       // the application's process, when the port knew it
  uint8_t proxy = 0;      // which proxy carries it (its place in the config)
  bool direct = false;    // let out unchanged, not proxied (user's choice)
  bool relayed = false;   // TCP the kernel redirected: `cookie` is the
                          // relay's stream, no packet of it is rewritten

  nat_flow nat() const { return {key.src, key.dst, listener_peer}; }

private:
  friend class flow_table;
  uint32_t prev_ = 0; // idle list links: index + 1, 0 = none
  uint32_t next_ = 0;
  bool in_use_ = false;
  bool closing_ = false;

public:
  bool closing() const { return closing_; }
};

/// Descriptors a proxied TCP flow holds in the engine (two sockets, each
/// with a reader and a writer), and those kept free for everything else
/// (the capture, the control socket, UDP associations, log files).
constexpr size_t descriptors_per_tcp_flow = 4;
/// A TCP flow the kernel redirected to the relay: its two sockets (a pipe
/// only while bytes wait in it, from a small pool).
constexpr size_t descriptors_per_relayed_flow = 2;
constexpr size_t reserved_descriptors = 512;

/// The flow cap a process can honour with `open_file_limit` descriptors
/// (0: no per-process limit): running out of descriptors mid-flow breaks
/// connections, so the cap is lowered instead and the oldest idle flow
/// makes room, as at any cap.
inline uint32_t
flows_within_descriptor_budget(uint32_t configured, size_t open_file_limit,
                               size_t per_flow = descriptors_per_tcp_flow) {
  if (open_file_limit == 0)
    return configured;
  size_t usable = open_file_limit > reserved_descriptors + 64
                      ? open_file_limit - reserved_descriptors
                      : 64;
  size_t allowed = usable / per_flow;
  return allowed < configured ? static_cast<uint32_t>(allowed) : configured;
}

class flow_table {
public:
  struct options {
    uint32_t max_flows = 16384;
    std::chrono::nanoseconds tcp_idle = std::chrono::minutes{30};
    std::chrono::nanoseconds udp_idle = std::chrono::minutes{5};
    /// How long a closing flow (its session ended) keeps its entry, so the
    /// last FIN/ACK packets can still be rewritten.
    std::chrono::nanoseconds closing_idle = std::chrono::seconds{5};
    nat_shape shape = nat_shape::loopback;
    /// The listener, which a listener-side peer must never equal.
    endpoint listener;
  };

  explicit flow_table(const options& opts);

  flow_table(const flow_table&) = delete;
  flow_table& operator=(const flow_table&) = delete;

  /// Adds a flow (which must not exist yet) and gives a TCP flow a
  /// listener-side peer that no other flow has. At the cap the least
  /// recently active flow is evicted first: `on_evict(entry)` runs before
  /// it is removed. Returns nullptr if no unique listener-side peer exists
  /// (reflection shape: another flow has the same remote address and source
  /// port; the caller drops the SYN and the application retries).
  template<class OnEvict>
  flow_entry* insert(const flow_key& key, flow_time now, OnEvict&& on_evict) {
    if (size_ == opts_.max_flows) {
      auto* victim = oldest();
      on_evict(*victim);
      erase(*victim);
      ++evictions_;
    }
    return insert_free(key, now);
  }

  flow_entry* insert(const flow_key& key, flow_time now) {
    return insert(key, now, [](const flow_entry&) {});
  }

  flow_entry* find(const flow_key& key);

  /// The TCP flow whose listener-side peer is `peer` (the peer address of a
  /// connection the listener accepted), or nullptr.
  flow_entry* find_by_listener_peer(endpoint peer);

  /// Marks activity now: the flow moves to the end of its idle list.
  void touch(flow_entry& e, flow_time now);

  /// The flow's session is over: it expires after closing_idle.
  void mark_closing(flow_entry& e, flow_time now);

  void erase(flow_entry& e);

  /// Removes every flow idle past its protocol's TTL, calling
  /// `on_expired(entry)` before each removal. Returns how many expired.
  template<class OnExpired>
  size_t sweep(flow_time now, OnExpired&& on_expired) {
    size_t n = 0;
    for (int list = 0; list < lists; ++list) {
      auto ttl = list == 0   ? opts_.tcp_idle
                 : list == 1 ? opts_.udp_idle
                             : opts_.closing_idle;
      while (heads_[list] != 0) {
        auto& e = entries_[heads_[list] - 1];
        if (now - e.last_seen < ttl)
          break;
        on_expired(e);
        erase(e);
        ++n;
      }
    }
    return n;
  }

  /// Removes every flow, calling `on_erase(entry)` before each removal.
  /// Returns how many there were.
  template<class OnErase>
  size_t erase_all(OnErase&& on_erase) {
    size_t n = 0;
    for (auto& e : entries_)
      if (e.in_use_) {
        on_erase(e);
        erase(e);
        ++n;
      }
    return n;
  }

  template<class F>
  void for_each(F&& f) const {
    for (auto& e : entries_)
      if (e.in_use_)
        f(e);
  }

  size_t size() const { return size_; }
  size_t capacity() const { return opts_.max_flows; }
  uint64_t evictions() const { return evictions_; }

private:
  static constexpr int lists = 3; // TCP, UDP, closing
  static int list_of(const flow_entry& e) {
    return e.closing_ ? 2 : e.key.protocol == proto_tcp ? 0 : 1;
  }

  flow_entry* insert_free(const flow_key& key, flow_time now);
  bool choose_listener_peer(flow_entry& e);
  flow_entry* oldest();
  void link_tail(flow_entry& e);
  void unlink(flow_entry& e);
  uint32_t index_of(const flow_entry& e) const {
    return static_cast<uint32_t>(&e - entries_.data());
  }

  // Open addressing with linear probing and backward-shift deletion; slots
  // hold entry index + 1 (0 = empty). Sized to at most half full.
  size_t key_slot(const flow_key& key) const;
  size_t peer_slot(endpoint peer) const;
  void index_insert(std::vector<uint32_t>& table, size_t home, uint32_t value);
  void index_erase(std::vector<uint32_t>& table, size_t slot, bool by_key);

  options opts_;
  std::vector<flow_entry> entries_;
  std::vector<uint32_t> free_;    // free entry indexes (a stack)
  std::vector<uint32_t> by_key_;  // hash index by flow_key
  std::vector<uint32_t> by_peer_; // hash index by listener peer (TCP)
  size_t mask_ = 0;
  uint32_t heads_[lists] = {}; // idle lists, oldest first
  uint32_t tails_[lists] = {};
  size_t size_ = 0;
  uint64_t next_id_ = 1;
  uint64_t evictions_ = 0;
};

} // namespace drover::net
