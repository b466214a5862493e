#pragma once

// The Windows packet port: WinDivert's NETWORK layer diverts every outbound
// IPv4 TCP/UDP packet (minus the exclusions) and the listener's return
// path; its SOCKET layer (SNIFF | RECV_ONLY) names each local port's
// owning process. One thread (the divert-reader's) owns both handles'
// receive side and the attribution table: it waits on both with
// overlapped I/O, hands the targets' packets to the engine, and re-injects
// everybody else's unchanged in one SendEx per wake; which is which, and
// what waits for its owner, the packet_sorter decides (packet_sorter.hpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/platform/capture.hpp"
#include "actors/platform/target_set.hpp"
#include "actors/platform/windows/packet_sorter.hpp"
#include "actors/platform/windows/windivert_dll.hpp"
#include "net/attribution.hpp"

namespace drover::platform::windivert {

using platform::target_set;

struct port_options {
  std::string network_filter;
  std::string socket_filter;
  int16_t priority = 0;
  net::listener_address listener;
  /// How long a packet waits for its socket event before the OS's socket
  /// tables are asked.
  std::chrono::milliseconds hold_time{150};
  size_t held_slots = 256;
  /// The subnets' broadcasts as the guard keeps them (null: none).
  std::shared_ptr<const lan_broadcasts> broadcasts;
  /// Called once the handles no longer divert while the session has not
  /// ended: the packet thread stopped reading and the handle was let go
  /// (on the stall watch's thread), or a receive failed other than by a
  /// shutdown (the driver stopped or removed; on the packet thread).
  std::function<void()> on_lost;
};

class divert_port final : public packet_port, public packet_injector {
public:
  /// Opens the SOCKET handle, then the NETWORK handle (queue parameters at
  /// their maximum), and seeds the owners from the socket tables. Null on
  /// failure, with `failure` and `error` (for the user) set.
  static std::unique_ptr<divert_port> open(std::shared_ptr<dll> d,
                                           const port_options& opts,
                                           std::shared_ptr<target_set> targets,
                                           capture_failure& failure,
                                           std::string& error);

  ~divert_port() override;

  receive_status receive(packet_batch_buffer& batch) override;
  std::shared_ptr<packet_batch_buffer> new_batch() const override;
  std::error_code send_verdicts(const verdict* v, size_t n) override;
  void stop() override;
  port_counters counters() const override;
  std::string last_error() const override;

  std::error_code inject(const uint8_t* packet, size_t length) override;

  port_stats stats() const;

  /// Reading again after stop() (the capture's fence goes on reading a
  /// finished session's port until the next one diverts).
  void resume();
  /// From now on a packet no process is known to own is dropped, not let
  /// out (the fence's rule: a finished session's port lets no target's
  /// packet out, even one whose owner it lost track of).
  void fence();

  /// Takes over what `previous` (stopped, not reading) knew of the ports'
  /// owners: a socket that closed still owns its late packets, and the
  /// socket tables no longer name it.
  void take_owners_from(const divert_port& previous);

  struct state;

private:
  explicit divert_port(std::unique_ptr<state> s);
  std::unique_ptr<state> s_;
};

} // namespace drover::platform::windivert
