#pragma once

// What the Windows packet port decides for each outbound packet WinDivert
// diverts, by the process that owns its socket (net/attribution.hpp): a
// target's go to the engine, another program's back out unchanged, one
// whose owner is not known yet waits for its socket event (or the OS's
// socket tables), and one that may be a target's but cannot be told so
// never goes out. The port (windivert_port.hpp) does the I/O around it;
// both live on the port's receiving thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/platform/lan_broadcasts.hpp"
#include "actors/platform/packet_port.hpp"
#include "actors/platform/target_set.hpp"
#include "actors/platform/windows/socket_tables.hpp"
#include "net/attribution.hpp"

namespace drover::platform::windivert {

struct port_stats {
  uint64_t passed = 0;            // other processes' packets re-injected
  uint64_t held = 0;              // packets that waited for their owner
  uint64_t unattributed = 0;      // no owner found even in the tables: passed
  uint64_t unowned_held_back = 0; // the same, at a port's first try: dropped
  uint64_t fenced = 0;   // no owner named while fenced: dropped (it may be a
                         // target's)
  uint64_t orphaned = 0; // a closed socket's TCP segments nobody owns:
                         // dropped (they may be a target's)
  uint64_t former_targets = 0; // a socket's packets captured after its
                               // process stopped being a target
  uint64_t hold_overflow = 0;
  uint64_t adopted = 0;        // targets found by their first socket's image
  uint64_t send_failed = 0;    // packets a failed SendEx could not send
  uint64_t lan_broadcasts = 0; // targets' datagrams to a subnet's broadcast
                               // address: let out to the LAN
};

/// Where sorted packets go: the port's batch for the engine, or its
/// re-injection buffer.
class packet_sink {
public:
  /// Whether the engine's batch has room for one more packet of `length`.
  virtual bool has_room(uint32_t length) const = 0;
  /// To the engine. `facts` says who sent it (pid, blocked,
  /// fallback_direct, proxy); the sink fills in where it is.
  virtual void deliver(const uint8_t* data, uint32_t length,
                       const address& meta, const captured_packet& facts)
      = 0;
  /// Back out unchanged.
  virtual void pass(const uint8_t* data, uint32_t length, const address& meta)
      = 0;

protected:
  ~packet_sink() = default;
};

class packet_sorter {
public:
  /// `hold_time`: how long a packet waits for its socket event before the
  /// OS's socket tables are asked; `held_slots`: how many may wait;
  /// `broadcasts`: where a target's datagram goes out to the LAN (null:
  /// nowhere but what the filter leaves out).
  packet_sorter(net::listener_address listener,
                std::chrono::milliseconds hold_time, size_t held_slots,
                std::shared_ptr<target_set> targets,
                std::shared_ptr<const lan_broadcasts> broadcasts = nullptr);

  /// What the OS's socket tables say (read at the port's opening).
  void note(const std::vector<socket_row>& rows);
  /// The SOCKET layer's events: sockets opened and closed, with their
  /// process. A process not seen before is looked at (consider()).
  void on_socket_events(const address* events, size_t count,
                        net::flow_time now);
  /// Decides one diverted packet and hands it to `out`, or holds it.
  void sort(const uint8_t* data, uint32_t length, const address& meta,
            net::flow_time now, packet_sink& out);
  /// After a wake's packets: takes the tables' rows when `tables_back`,
  /// asks for them when a held packet's time is up, and releases the held
  /// packets whose owner is known (or, with the tables back, given up).
  void after_wake(net::flow_time now, bool tables_back, packet_sink& out);
  /// How long the port may wait for I/O before after_wake() has work:
  /// none while nothing is held or the tables are being read.
  std::optional<net::flow_time> wake_by() const;

  /// The tables' reader (its ready() event is the port's to wait on).
  table_reader& tables() { return tables_; }

  /// From now on a packet no process is known to own is dropped, not let
  /// out (divert_port::fence()). Any thread.
  void fence() { fenced_ = true; }
  /// Takes over what `previous` knew of the ports' owners.
  void take_owners_from(const packet_sorter& previous) {
    owners_ = previous.owners_;
  }

  /// Counted so far; `send_failed` is the port's.
  const port_stats& stats() const { return live_; }

private:
  static bool named(uint32_t pid) {
    return pid != 0 && pid != net::port_owners::nobody;
  }
  bool is_target(uint32_t pid) { return view_.captured(pid); }
  /// An IPv4 UDP datagram to one of the LAN's broadcast addresses.
  bool to_lan_broadcast(const uint8_t* data, uint32_t length);
  net::classification classify(const uint8_t* data, uint32_t length,
                               bool loopback, net::flow_time now);
  /// Carries out a decision that is not `hold`.
  void act(const net::classification& c, const uint8_t* data, uint32_t length,
           const address& meta, packet_sink& out);
  void release_held(net::flow_time now, bool give_up, packet_sink& out);
  void consider(uint32_t pid);

  net::listener_address listener_;
  std::chrono::milliseconds hold_time_;
  std::shared_ptr<target_set> targets_;
  net::port_owners owners_;
  table_reader tables_; // the OS's socket tables, read on its own thread
  net::held_packets held_;
  target_view view_; // `targets_`, lock-free: targets and blocked captured
  std::shared_ptr<const lan_broadcasts> broadcasts_;
  lan_broadcasts_view lan_; // `broadcasts_`, lock-free
  // Processes consider() looked at: ID -> creation time.
  std::unordered_map<uint32_t, uint64_t> seen_processes_;
  port_stats live_;
  // Between two sessions (the fence reads the port): a packet no process is
  // known to own is dropped, never let out; only other programs' known
  // packets pass.
  std::atomic<bool> fenced_{false};
};

} // namespace drover::platform::windivert
