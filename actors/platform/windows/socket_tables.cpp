#include "actors/platform/windows/socket_tables.hpp"

#include <winsock2.h>
// After winsock2.h (a separate block keeps clang-format from sorting them).
#include <iphlpapi.h>

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"

namespace drover::platform::windivert {

namespace {

// A TCP connection's remote, as the packets' (net::remote_key); 0 for a
// listener and for UDP, whose rows name none.
uint64_t remote_of(const MIB_TCPROW_OWNER_PID& r) {
  if (r.dwState == MIB_TCP_STATE_LISTEN)
    return 0;
  uint8_t address[4];
  std::memcpy(address, &r.dwRemoteAddr, 4); // network order
  return net::remote_key(address, 4,
                         ntohs(static_cast<uint16_t>(r.dwRemotePort)));
}
uint64_t remote_of(const MIB_TCP6ROW_OWNER_PID& r) {
  if (r.dwState == MIB_TCP_STATE_LISTEN)
    return 0;
  return net::remote_key(r.ucRemoteAddr, 16,
                         ntohs(static_cast<uint16_t>(r.dwRemotePort)));
}
uint64_t remote_of(const MIB_UDPROW_OWNER_PID&) {
  return 0;
}
uint64_t remote_of(const MIB_UDP6ROW_OWNER_PID&) {
  return 0;
}

template<class Row>
void read_table(std::vector<char>& buf, uint8_t protocol, ULONG family,
                std::vector<socket_row>& rows) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    DWORD size = static_cast<DWORD>(buf.size());
    DWORD rc = protocol == net::proto_tcp
                   ? GetExtendedTcpTable(buf.data(), &size, FALSE, family,
                                         TCP_TABLE_OWNER_PID_ALL, 0)
                   : GetExtendedUdpTable(buf.data(), &size, FALSE, family,
                                         UDP_TABLE_OWNER_PID, 0);
    if (rc == ERROR_INSUFFICIENT_BUFFER) {
      buf.resize(size + 4096);
      continue;
    }
    if (rc != NO_ERROR)
      return;
    DWORD count = 0;
    std::memcpy(&count, buf.data(), sizeof count);
    // The rows follow the count, aligned for the row type.
    auto* first = reinterpret_cast<const Row*>(
        buf.data() + std::max(sizeof(DWORD), alignof(Row)));
    for (DWORD i = 0; i < count; ++i)
      rows.push_back({protocol,
                      ntohs(static_cast<uint16_t>(first[i].dwLocalPort)),
                      first[i].dwOwningPid, remote_of(first[i])});
    return;
  }
}

} // namespace

void read_socket_tables(std::vector<socket_row>& rows, std::vector<char>& buf) {
  rows.clear();
  if (buf.size() < 64 * 1024)
    buf.resize(64 * 1024);
  read_table<MIB_TCPROW_OWNER_PID>(buf, net::proto_tcp, AF_INET, rows);
  read_table<MIB_TCP6ROW_OWNER_PID>(buf, net::proto_tcp, AF_INET6, rows);
  read_table<MIB_UDPROW_OWNER_PID>(buf, net::proto_udp, AF_INET, rows);
  read_table<MIB_UDP6ROW_OWNER_PID>(buf, net::proto_udp, AF_INET6, rows);
}

namespace {

// The remote of a SOCKET event's socket, as the packets' (0: none, a
// bound or listening socket).
uint64_t remote_of(const socket_data& f) {
  auto& r = f.remote_addr;
  if (f.remote_port == 0 && r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0)
    return 0;
  if (r[1] == 0xffff && r[2] == 0 && r[3] == 0) // IPv4, mapped
    return net::remote_key_v4(r[0], f.remote_port);
  uint8_t bytes[16];
  for (size_t i = 0; i < 4; ++i) // host-order words, the last first
    net::store32(bytes + 12 - 4 * i, r[i]);
  return net::remote_key(bytes, sizeof bytes, f.remote_port);
}

} // namespace

bool note_socket_event(const address& event, net::port_owners& owners,
                       net::flow_time now) {
  auto& f = event.flow;
  switch (event.event) {
    case event_socket_bind:
    case event_socket_connect:
    case event_socket_listen:
    case event_socket_accept:
      owners.opened(f.protocol, f.local_port, f.process_id, remote_of(f));
      return true;
    case event_socket_close:
      owners.closed(f.protocol, f.local_port, f.process_id, now, remote_of(f));
      return false;
    default:
      return false;
  }
}

void note_owners(const std::vector<socket_row>& rows,
                 net::port_owners& owners) {
  for (auto& r : rows)
    owners.opened(r.protocol, r.port, r.pid, r.remote);
}

table_reader::table_reader()
    : wake_(CreateEventW(nullptr, FALSE, FALSE, nullptr)),
      ready_(CreateEventW(nullptr, TRUE, FALSE, nullptr)),
      stop_(CreateEventW(nullptr, TRUE, FALSE, nullptr)),
      thread_([this] { run(); }) {}

table_reader::~table_reader() {
  SetEvent(stop_);
  thread_.join();
  for (HANDLE e : {wake_, ready_, stop_})
    CloseHandle(e);
}

void table_reader::request() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (pending_)
      return;
    pending_ = true;
  }
  SetEvent(wake_);
}

bool table_reader::pending() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return pending_;
}

std::vector<socket_row> table_reader::take() {
  std::lock_guard<std::mutex> guard{mutex_};
  ResetEvent(ready_);
  pending_ = false;
  return std::move(rows_);
}

void table_reader::run() {
  std::vector<char> buf;
  std::vector<socket_row> rows;
  HANDLE events[2] = {stop_, wake_};
  while (WaitForMultipleObjects(2, events, FALSE, INFINITE)
         == WAIT_OBJECT_0 + 1) {
    read_socket_tables(rows, buf);
    std::lock_guard<std::mutex> guard{mutex_};
    rows_ = rows;
    SetEvent(ready_);
  }
}

size_t reset_tcp_connections(uint32_t pid,
                             const net::capture::exclusions& skip) {
  std::vector<char> buf(64 * 1024);
  DWORD size = 0;
  DWORD rc = ERROR_INSUFFICIENT_BUFFER;
  for (int attempt = 0; attempt < 4 && rc == ERROR_INSUFFICIENT_BUFFER;
       ++attempt) {
    size = static_cast<DWORD>(buf.size());
    rc = GetExtendedTcpTable(buf.data(), &size, FALSE, AF_INET,
                             TCP_TABLE_OWNER_PID_CONNECTIONS, 0);
    if (rc == ERROR_INSUFFICIENT_BUFFER)
      buf.resize(size + 4096);
  }
  if (rc != NO_ERROR)
    return 0;
  auto skipped = net::capture::excluded_ranges(skip);
  auto* table = reinterpret_cast<const MIB_TCPTABLE_OWNER_PID*>(buf.data());
  size_t reset = 0;
  for (DWORD i = 0; i < table->dwNumEntries; ++i) {
    auto& r = table->table[i];
    if (r.dwOwningPid != pid || r.dwState != MIB_TCP_STATE_ESTAB)
      continue;
    net::ipv4_address remote{ntohl(r.dwRemoteAddr)};
    if ((remote.value >> 24) == 127
        || std::any_of(
            skipped.begin(), skipped.end(),
            [&](const net::ipv4_cidr& c) { return c.contains(remote); }))
      continue;
    MIB_TCPROW row{};
    row.dwState = MIB_TCP_STATE_DELETE_TCB;
    row.dwLocalAddr = r.dwLocalAddr;
    row.dwLocalPort = r.dwLocalPort;
    row.dwRemoteAddr = r.dwRemoteAddr;
    row.dwRemotePort = r.dwRemotePort;
    if (SetTcpEntry(&row) == NO_ERROR)
      ++reset;
  }
  return reset;
}

} // namespace drover::platform::windivert
