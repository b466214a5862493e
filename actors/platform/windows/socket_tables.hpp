#pragma once

// The OS's TCP and UDP socket tables (GetExtendedTcpTable /
// GetExtendedUdpTable): which process owns each local port, for the
// WinDivert port's attribution, read on a thread of its own so the packet
// thread never blocks on them; and resetting a process's connections.

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/windivert_abi.hpp"
#include "net/attribution.hpp"
#include "net/capture_rules.hpp"

namespace drover::platform::windivert {

struct socket_row {
  uint8_t protocol = 0; // 6 TCP, 17 UDP
  uint16_t port = 0;    // local port
  uint32_t pid = 0;     // owner
  uint64_t remote = 0;  // a connection's remote (net::remote_key), or 0
};

/// Reads every local TCP and UDP socket (IPv4 and IPv6) with its owner
/// into `rows`; `buf` is scratch, reused between calls.
void read_socket_tables(std::vector<socket_row>& rows, std::vector<char>& buf);

/// Tells `owners` what `rows` say.
void note_owners(const std::vector<socket_row>& rows, net::port_owners& owners);

/// Tells `owners` what a SOCKET-layer event says (a socket opened or
/// closed, with its remote); true when a socket opened.
bool note_socket_event(const address& event, net::port_owners& owners,
                       net::flow_time now);

/// Reads the tables when asked, on a thread of its own: the packet thread
/// asks (request()), goes on with other packets, and takes the rows once
/// ready() is set.
class table_reader {
public:
  table_reader();
  ~table_reader(); // stops and joins its thread
  table_reader(const table_reader&) = delete;
  table_reader& operator=(const table_reader&) = delete;

  /// Starts a read unless one is under way or waits to be taken.
  void request();
  /// True between request() and take().
  bool pending() const;
  /// Set (manual reset) while a finished read waits to be taken: for
  /// WaitForMultipleObjects.
  HANDLE ready() const { return ready_; }
  /// The finished read's rows; resets ready().
  std::vector<socket_row> take();

private:
  void run();

  HANDLE wake_ = nullptr;
  HANDLE ready_ = nullptr;
  HANDLE stop_ = nullptr;
  mutable std::mutex mutex_;
  bool pending_ = false;
  std::vector<socket_row> rows_;
  std::thread thread_;
};

/// Resets the established TCP connections of process `pid` (SetTcpEntry,
/// MIB_TCP_STATE_DELETE_TCB), except those to loopback or a destination in
/// `skip`: a target the engine took over after they began reconnects, now
/// through the proxy. Returns how many were reset.
size_t reset_tcp_connections(uint32_t pid,
                             const net::capture::exclusions& skip);

} // namespace drover::platform::windivert
