#pragma once

// Which process a captured packet belongs to, for a packet port that sees
// every outbound packet of the machine and must pick out the targets'
// (Windows: WinDivert's NETWORK layer has no process ID). The owner of each
// local TCP and UDP port comes from the SOCKET layer's events (bind,
// connect, close) and, at start, from the OS's socket tables; a packet
// whose port has no owner yet waits in a bounded queue until its event
// arrives, in either order. Pure: no OS, no allocation after construction.

#include <cstdint>
#include <vector>

#include "net/flow_table.hpp"
#include "net/nat.hpp"
#include "net/packet.hpp"

namespace drover::net {

/// The remote a socket talks to, as one number: the address (network
/// order, 4 or 16 bytes) and port. 0 stands for none (a bound or listening
/// socket), and no remote gives 0.
uint64_t remote_key(const uint8_t* address, size_t address_length,
                    uint16_t port);
/// The same for an IPv4 address in host order.
uint64_t remote_key_v4(uint32_t address, uint16_t port);

class port_owners {
public:
  /// A closed socket's late packets (its FIN's retransmissions, a datagram
  /// in flight) still belong to it for this long, unless the port is taken
  /// again first.
  static constexpr std::chrono::seconds linger{240};
  /// After the OS's socket tables named nobody for a port, its packets pass
  /// without waiting again for this long (a socket event still wins).
  static constexpr std::chrono::seconds nobody_for{1};
  /// What owner() says for such a port: no process, known.
  static constexpr uint32_t nobody = ~uint32_t{0};
  /// Sockets remembered apart while two processes share their local port.
  static constexpr size_t shared_capacity = 256;

  port_owners(); // both tables, allocated once (2 x 65536 entries)

  /// A socket of `pid` holds `port` (bind, connect, listen, accept, the
  /// socket tables), talking to `remote` (remote_key(); 0: none known).
  /// PID 0 names no process and replaces nobody; 4 (the System process,
  /// for sockets the kernel holds) never replaces an application that
  /// owns the port. Two processes' connected sockets may share a local
  /// port when their remotes differ (Windows' SO_REUSE_UNICASTPORT; Linux
  /// and so wine give connect()'s ports so): each keeps its own owner.
  void opened(uint8_t protocol, uint16_t port, uint32_t pid,
              uint64_t remote = 0);
  /// The OS's tables know no owner of `port` now.
  void unowned(uint8_t protocol, uint16_t port, flow_time now);
  /// A port's first packets waited for their owner and the OS's tables
  /// named none: whether to drop them rather than let them out as
  /// nobody's. They are dropped at the port's first such moment and for
  /// `unowned_retry` after it: a target's socket event may come late (a
  /// busy engine, a lost event), and its sender tries again (TCP sends its
  /// SYN again within seconds), by when its owner is known. Only a port
  /// still unowned at a later try lets its packets out, as nobody's. So a
  /// program no event names loses a moment, never the connection, and a
  /// late event no longer lets a target's first packet out.
  bool hold_back_unowned(uint8_t protocol, uint16_t port, flow_time now);
  static constexpr std::chrono::milliseconds unowned_retry{500};
  /// A port's first try counts again this long after it.
  static constexpr std::chrono::seconds unowned_forgotten{60};
  /// The socket closed; a newer owner of the port is left alone.
  void closed(uint8_t protocol, uint16_t port, uint32_t pid, flow_time now,
              uint64_t remote = 0);
  /// The owner's process ID of the socket on `port` that talks to
  /// `remote`, `nobody` (see unowned()), or 0 when unknown (never seen, or
  /// closed longer than `linger` ago).
  uint32_t owner(uint8_t protocol, uint16_t port, flow_time now,
                 uint64_t remote = 0) const;
  /// A packet of the socket on `port` that talks to `remote` was captured
  /// (a target's): the socket's packets stay captured for as long as it is
  /// remembered, even once its process is no target any more (it exited,
  /// or a rule changed). Its connection went through the proxy, so its
  /// late segments (a retransmission, a FIN, a window probe after the
  /// program closed it) belong there or nowhere, never direct.
  void captured(uint8_t protocol, uint16_t port, uint64_t remote = 0);
  /// Whether captured() was said of that socket (a newer socket on the
  /// port starts afresh).
  bool was_captured(uint8_t protocol, uint16_t port, uint64_t remote = 0) const;

private:
  struct entry {
    uint32_t pid = 0;
    bool closed = false;
    bool shared = false;   // see shared_
    bool captured = false; // see captured()
    uint64_t remote = 0;
    flow_time closed_at{};
    flow_time nobody_until{};
    flow_time unowned_at{}; // hold_back_unowned()'s first try
    bool unowned_tried = false;
  };
  // One socket of a port two processes share.
  struct shared_socket {
    uint64_t remote = 0;
    flow_time closed_at{};
    uint32_t pid = 0; // 0: a free slot
    uint16_t port = 0;
    uint8_t protocol = 0;
    bool closed = false;
    bool captured = false;
  };
  entry* slot(uint8_t protocol, uint16_t port);
  const entry* slot(uint8_t protocol, uint16_t port) const;
  /// The socket of a shared port that talks to `remote` (null: none).
  const shared_socket* shared_socket_of(uint8_t protocol, uint16_t port,
                                        uint64_t remote) const;
  void remember_shared(uint8_t protocol, uint16_t port, uint32_t pid,
                       uint64_t remote);
  void forget_shared(uint8_t protocol, uint16_t port);
  std::vector<entry> tcp_, udp_;
  std::vector<shared_socket> shared_; // shared_capacity, allocated once
};

/// What the port does with a captured packet.
enum class disposition : uint8_t {
  capture, // a target's, or the listener's return path: to the engine
  pass,    // another process's: re-injected unchanged, in the same batch
  hold,    // no owner known yet: wait for the socket event
  drop,    // a segment of a TCP connection no process owns: never out
};

/// The local port a packet was sent from (IPv4, or IPv6 behind extension
/// headers as WinDivert's filter reads them), or 0 when it has none Drover
/// can read (a later fragment, another protocol, a truncated header).
uint16_t source_port(const uint8_t* data, size_t length, uint8_t& protocol);
/// The same, with the remote it goes to (remote_key(); 0 with port 0).
uint16_t source_port(const uint8_t* data, size_t length, uint8_t& protocol,
                     uint64_t& remote);

/// The socket an outbound packet was sent from, as its headers name it.
struct packet_socket {
  uint8_t protocol = 0;
  uint16_t port = 0;   // 0: none Drover can read (see source_port())
  uint64_t remote = 0; // remote_key()
};
packet_socket socket_of(const uint8_t* data, size_t length);

/// Whether an outbound packet is a TCP segment of a connection already
/// open (no SYN): what a socket closed by its program still sends (its
/// data's and its FIN's retransmissions) after nobody owns it.
bool mid_connection(const uint8_t* data, size_t length);

/// What becomes of a packet no process owns, even by the OS's tables: a
/// socket its program closed, whose history began before this session (a
/// capture restart forgets who had it). Its segments may be a target's, so
/// they never go out (drop); a new connection's SYN or a datagram has no
/// flow to leak from (pass).
inline disposition nobodys(const uint8_t* data, size_t length) {
  return mid_connection(data, length) ? disposition::drop : disposition::pass;
}

/// classify()'s answer, with what it read on the way (so the caller reads
/// the packet's headers and the owners once).
struct classification {
  disposition what = disposition::pass;
  packet_socket from;
  /// port_owners::owner() of `from` (0: not known; always 0 on loopback).
  uint32_t owner = 0;
  /// Captured because its socket's packets went to the engine before, not
  /// because its process is a target now (port_owners::captured()).
  bool former_target = false;
};

/// Decides a captured outbound packet. `is_target` answers for a process
/// ID. Loopback packets are captured only on the listener's return path
/// (the filter lets no others through).
template<class IsTarget>
classification classify(const uint8_t* data, size_t length, bool loopback,
                        const listener_address& listener,
                        const port_owners& owners, flow_time now,
                        IsTarget&& is_target) {
  classification c;
  c.from = socket_of(data, length);
  const auto& from = c.from;
  if (loopback) {
    c.what = from.protocol == proto_tcp && from.port == listener.port
                 ? disposition::capture
                 : disposition::pass;
    return c;
  }
  if (from.port == 0)
    return c; // no transport header: a fragment, say (passed)
  c.owner = owners.owner(from.protocol, from.port, now, from.remote);
  if (c.owner == 0) {
    c.what = disposition::hold;
  } else if (c.owner == port_owners::nobody) {
    c.what = nobodys(data, length);
  } else if (is_target(c.owner)) {
    c.what = disposition::capture;
  } else if (owners.was_captured(from.protocol, from.port, from.remote)) {
    c.what = disposition::capture;
    c.former_target = true;
  }
  return c;
}

/// Packets waiting for their owner, in arrival order: a fixed number of
/// slots of a fixed size (a flow's first packet: a SYN, a datagram).
class held_packets {
public:
  static constexpr size_t slot_bytes = 1600;

  struct held {
    uint8_t protocol = 0;
    uint16_t port = 0;
    uint32_t length = 0;
    flow_time deadline{};
    uint32_t slot = 0;
  };

  held_packets(size_t slots, size_t meta_bytes);

  /// False when full or the packet is larger than a slot: then the caller
  /// decides now.
  bool hold(uint8_t protocol, uint16_t port, const uint8_t* data,
            uint32_t length, const void* meta, flow_time deadline);

  const uint8_t* data(const held& h) const;
  const void* meta(const held& h) const;

  /// Calls `f(held)` for each held packet, oldest first; those for which
  /// it returns true are let go (their bytes stay valid until the next
  /// hold()).
  template<class F>
  size_t release_if(F&& f) {
    size_t kept = 0, released = 0;
    for (size_t i = 0; i < order_.size(); ++i) {
      if (f(static_cast<const held&>(order_[i]))) {
        free_.push_back(order_[i].slot);
        ++released;
      } else {
        order_[kept++] = order_[i];
      }
    }
    order_.resize(kept);
    return released;
  }

  size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }
  /// The earliest deadline; only when not empty.
  flow_time next_deadline() const;

private:
  size_t meta_bytes_;
  std::vector<uint8_t> bytes_;
  std::vector<uint8_t> metas_;
  std::vector<uint32_t> free_;
  std::vector<held> order_;
};

} // namespace drover::net
