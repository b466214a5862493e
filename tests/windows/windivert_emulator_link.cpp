// The WinDivert.dll double's link to real packets (emulator mode): a
// thread reads what the emulator daemon (tests/support/windivert_emulator.cpp)
// queued from the machine's outbound traffic, diverts each packet to the
// handle the driver would give it (fake_windivert.cpp: priority, filter
// checker, bounded queues) and answers taken or passed; what handles send
// goes back to the daemon to be injected.
//
// The SOCKET layer's events are synthesized from wine's socket tables
// (GetExtendedTcpTable/GetExtendedUdpTable) and, for the process of a
// socket the tables name none for, the processes' socket handles: before a TCP
// SYN or a UDP datagram from a port not seen yet is diverted, the sockets are
// read and the socket's BIND (UDP), CONNECT (TCP; UDP: the first datagram to
// each new remote address and port) or LISTEN event goes to the SOCKET handles
// first, as Windows' ALE layer fires before the packet leaves; a read every 250
// ms finds what closed (CLOSE) and what opened without sending yet.

#include <winsock2.h>
// After winsock2.h (a separate block keeps clang-format from sorting them).
#include <iphlpapi.h>
#include <windows.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "net/attribution.hpp"
#include "net/bytes.hpp"
#include "net/packet.hpp"
#include "tests/support/windivert_bridge.hpp"
#include "tests/windows/fake_windivert.hpp"

namespace drover::test::fake_windivert {

namespace {

namespace bridge = drover::test::windivert_bridge;

SOCKET link = INVALID_SOCKET;
std::mutex send_mutex; // SendEx callers and the link thread both send
std::once_flag started;

int64_t now_ticks() {
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  return t.QuadPart;
}

bool send_all(const std::string& out) {
  std::lock_guard<std::mutex> guard{send_mutex};
  size_t at = 0;
  while (at < out.size()) {
    int n = send(link, out.data() + at, static_cast<int>(out.size() - at), 0);
    if (n <= 0)
      return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

// A socket of some process, as the tables show it: (protocol, local port,
// remote) -> its process, addresses and the event already told. The remote
// (net::remote_key; 0 for a listener, a UDP socket, one not connecting
// yet) tells apart the connections of two processes that share a local
// port, as Linux's connect() lets them (and wine with it).
using socket_key = std::tuple<uint8_t, uint16_t, uint64_t>;
// An IPv6 UDP socket's third field: its port number may be an IPv4
// socket's too.
constexpr uint64_t udp6_socket = 6;

struct socket_row {
  uint32_t pid = 0;
  uint32_t local_ip = 0;
  uint32_t remote_ip = 0; // host order; 0 while not connected
  uint16_t remote_port = 0;
  bool ipv6 = false; // then the addresses are these, in network order
  std::array<uint8_t, 16> local6{}, remote6{};
  bool listening = false;
  uint64_t endpoint = 0;
  bool connect_told = false; // TCP: its CONNECT went out
};

class socket_events {
public:
  // Reads every process's sockets; each socket new since the last read
  // gets its opening event, each gone its CLOSE, appended to `out`.
  void refresh(std::vector<diverted>& out) {
    std::map<socket_key, socket_row> now;
    read_sockets(now);
    for (auto& [key, row] : now) {
      auto it = known_.find(key);
      if (it != known_.end() && it->second.pid == row.pid) {
        row.endpoint = it->second.endpoint;
        row.connect_told = it->second.connect_told;
        if (row.remote_ip == 0 && row.remote6 == std::array<uint8_t, 16>{}) {
          row.remote_ip = it->second.remote_ip;
          row.remote6 = it->second.remote6;
          row.remote_port = it->second.remote_port;
        }
        continue;
      }
      row.endpoint = ++next_endpoint_;
      if (std::get<0>(key) == IPPROTO_UDP)
        out.push_back(event_for(wd::event_socket_bind, key, row));
      else if (row.listening)
        out.push_back(event_for(wd::event_socket_listen, key, row));
      else if (row.remote_ip != 0 || row.remote_port != 0) {
        row.connect_told = true;
        out.push_back(event_for(wd::event_socket_connect, key, row));
      }
      // Else a TCP socket bound and not connecting yet: its SYN tells
      // (before()).
    }
    for (auto& [key, row] : known_) {
      auto it = now.find(key);
      if (it == now.end() || it->second.pid != row.pid) {
        out.push_back(event_for(wd::event_socket_close, key, row));
        if (std::get<0>(key) == IPPROTO_UDP) { // its remotes go with it
          for (auto r = udp_remotes_.begin(); r != udp_remotes_.end();)
            r = std::get<0>(*r) == std::get<1>(key) ? udp_remotes_.erase(r)
                                                    : std::next(r);
          for (auto r = udp6_remotes_.begin(); r != udp6_remotes_.end();)
            r = r->first == std::get<1>(key) ? udp6_remotes_.erase(r)
                                             : std::next(r);
        }
      }
    }
    known_ = std::move(now);
  }

  // Before a packet is diverted: its socket's events when they are not out
  // yet (a TCP SYN, a UDP datagram from a port or to a remote not seen).
  void before(const uint8_t* p, size_t length, bool loopback,
              std::vector<diverted>& out) {
    net::packet_info info;
    if (loopback || net::parse(p, length, info) != net::parse_error::none)
      return;
    if (info.ip_version == 6) {
      before_ipv6(p, info, out);
      return;
    }
    if (info.ip_version != 4 || !info.has_ports)
      return;
    bool syn = info.is_tcp() && (info.tcp_flags & net::tcp_flag::syn) != 0
               && (info.tcp_flags & net::tcp_flag::ack) == 0;
    if (!syn && !info.is_udp())
      return;
    socket_key key{info.protocol, info.src.port,
                   info.is_tcp()
                       ? net::remote_key_v4(info.dst.ip.value, info.dst.port)
                       : 0};
    if (known_.count(key) == 0)
      refresh(out);
    auto it = known_.find(key);
    if (it == known_.end() && info.is_tcp()) // its row without its remote yet
      it = known_.find(socket_key{info.protocol, info.src.port, 0});
    if (it == known_.end())
      return; // nobody's that a process holds (a raw socket, say)
    auto& row = it->second;
    if (info.is_tcp()) {
      if (row.connect_told)
        return;
      row.connect_told = true;
    } else if (!udp_remotes_
                    .insert({info.src.port, info.dst.ip.value, info.dst.port})
                    .second) {
      return;
    }
    socket_row connecting = row;
    connecting.local_ip = info.src.ip.value;
    connecting.remote_ip = info.dst.ip.value;
    connecting.remote_port = info.dst.port;
    if (info.is_tcp())
      row = connecting;
    out.push_back(event_for(wd::event_socket_connect, key, connecting));
  }

private:
  // An IPv6 UDP datagram to a remote not seen yet (UDP right after the
  // fixed header): its socket's CONNECT, as for IPv4.
  void before_udp6(const uint8_t* p, const net::packet_info& info,
                   std::vector<diverted>& out) {
    if (info.total_length < 48)
      return;
    socket_key key{net::proto_udp, net::load16(p + 40), udp6_socket};
    if (known_.count(key) == 0)
      refresh(out);
    auto it = known_.find(key);
    auto remote = net::remote_key(p + 24, 16, net::load16(p + 42));
    if (it == known_.end()
        || !udp6_remotes_.insert({std::get<1>(key), remote}).second)
      return;
    socket_row connecting = it->second;
    std::memcpy(connecting.local6.data(), p + 8, 16);
    std::memcpy(connecting.remote6.data(), p + 24, 16);
    connecting.remote_port = net::load16(p + 42);
    out.push_back(event_for(wd::event_socket_connect, key, connecting));
  }

  // An IPv6 TCP SYN (TCP right after the fixed header), or a datagram:
  // its socket's CONNECT, as for IPv4.
  void before_ipv6(const uint8_t* p, const net::packet_info& info,
                   std::vector<diverted>& out) {
    if (info.protocol == net::proto_udp)
      return before_udp6(p, info, out);
    if (info.protocol != net::proto_tcp || info.total_length < 60
        || (p[53] & (net::tcp_flag::syn | net::tcp_flag::ack))
               != net::tcp_flag::syn)
      return;
    socket_key key{net::proto_tcp, net::load16(p + 40),
                   net::remote_key(p + 24, 16, net::load16(p + 42))};
    if (known_.count(key) == 0)
      refresh(out);
    auto it = known_.find(key);
    if (it == known_.end())
      it = known_.find(socket_key{net::proto_tcp, std::get<1>(key), 0});
    if (it == known_.end() || it->second.connect_told)
      return;
    auto& row = it->second;
    row.connect_told = true;
    row.ipv6 = true;
    std::memcpy(row.local6.data(), p + 8, 16);
    std::memcpy(row.remote6.data(), p + 24, 16);
    row.remote_port = net::load16(p + 42);
    out.push_back(event_for(wd::event_socket_connect, key, row));
  }

  // One family's TCP table into `now`: each socket but those in TIME_WAIT
  // (nobody's on Windows too) with its owner; `addresses` fills in a row's
  // addresses in that family's form.
  template<class Table, class Owner, class Addresses>
  static void read_tcp_table(ULONG family, std::vector<char>& buf, Owner& owner,
                             std::map<socket_key, socket_row>& now,
                             Addresses addresses) {
    DWORD size = static_cast<DWORD>(buf.size());
    if (GetExtendedTcpTable(buf.data(), &size, FALSE, family,
                            TCP_TABLE_OWNER_PID_ALL, 0)
        != NO_ERROR)
      return;
    auto* t = reinterpret_cast<Table*>(buf.data());
    for (DWORD i = 0; i < t->dwNumEntries; ++i) {
      auto& r = t->table[i];
      if (r.dwState == MIB_TCP_STATE_TIME_WAIT)
        continue;
      auto port = ntohs(static_cast<u_short>(r.dwLocalPort));
      socket_row row;
      row.pid = owner(r.dwOwningPid, port);
      if (row.pid == 0)
        continue;
      row.listening = r.dwState == MIB_TCP_STATE_LISTEN;
      if (!row.listening)
        row.remote_port = ntohs(static_cast<u_short>(r.dwRemotePort));
      addresses(r, row);
      // A listener's accepted sockets share its port, and so may two
      // processes' connections: each with its remote.
      uint64_t remote = 0;
      if (!row.listening && row.ipv6
          && row.remote6 != std::array<uint8_t, 16>{})
        remote = net::remote_key(row.remote6.data(), 16, row.remote_port);
      else if (!row.listening && !row.ipv6
               && (row.remote_ip != 0 || row.remote_port != 0))
        remote = net::remote_key_v4(row.remote_ip, row.remote_port);
      now.emplace(socket_key{IPPROTO_TCP, port, remote}, row);
    }
  }

  // The sockets as wine's tables show them (protocol, addresses, state),
  // each with its process. Wine's tables name no process for a socket
  // that only wine's server holds (one still connecting, say): then the
  // process whose socket handle is bound to that port is its owner.
  static void read_sockets(std::map<socket_key, socket_row>& now) {
    std::map<uint16_t, uint32_t> handle_owners;
    // Only when the tables name no owner; afresh once when even the
    // remembered handles name none.
    bool handles_read = false, handles_read_afresh = false;
    auto owner = [&](DWORD pid, uint16_t port) -> uint32_t {
      if (pid != 0)
        return pid;
      return handle_owner(handle_owners, handles_read, handles_read_afresh,
                          port);
    };
    static std::vector<char> buf(1 << 18);
    read_tcp_table<MIB_TCPTABLE_OWNER_PID>(
        AF_INET, buf, owner, now, [](const auto& r, socket_row& row) {
          row.local_ip = ntohl(r.dwLocalAddr);
          if (!row.listening)
            row.remote_ip = ntohl(r.dwRemoteAddr);
        });
    read_tcp_table<MIB_TCP6TABLE_OWNER_PID>(
        AF_INET6, buf, owner, now, [](const auto& r, socket_row& row) {
          row.ipv6 = true;
          std::memcpy(row.local6.data(), r.ucLocalAddr, 16);
          if (!row.listening)
            std::memcpy(row.remote6.data(), r.ucRemoteAddr, 16);
        });
    DWORD size = static_cast<DWORD>(buf.size());
    if (GetExtendedUdpTable(buf.data(), &size, FALSE, AF_INET,
                            UDP_TABLE_OWNER_PID, 0)
        == NO_ERROR) {
      auto* t = reinterpret_cast<MIB_UDPTABLE_OWNER_PID*>(buf.data());
      for (DWORD i = 0; i < t->dwNumEntries; ++i) {
        auto& r = t->table[i];
        auto port = ntohs(static_cast<u_short>(r.dwLocalPort));
        socket_row row;
        row.pid = owner(r.dwOwningPid, port);
        row.local_ip = ntohl(r.dwLocalAddr);
        if (row.pid != 0)
          now.emplace(socket_key{IPPROTO_UDP, port, 0}, row);
      }
    }
    size = static_cast<DWORD>(buf.size());
    if (GetExtendedUdpTable(buf.data(), &size, FALSE, AF_INET6,
                            UDP_TABLE_OWNER_PID, 0)
        == NO_ERROR) {
      auto* t = reinterpret_cast<MIB_UDP6TABLE_OWNER_PID*>(buf.data());
      for (DWORD i = 0; i < t->dwNumEntries; ++i) {
        auto& r = t->table[i];
        auto port = ntohs(static_cast<u_short>(r.dwLocalPort));
        socket_row row;
        row.pid = owner(r.dwOwningPid, port);
        row.ipv6 = true;
        std::memcpy(row.local6.data(), r.ucLocalAddr, 16);
        if (row.pid != 0)
          now.emplace(socket_key{IPPROTO_UDP, port, udp6_socket}, row);
      }
    }
  }

  // A SOCKET-layer address as windivert.h lays it out: host order,
  // IPv4-mapped (::ffff:a.b.c.d).
  static diverted event_for(uint8_t event, const socket_key& k,
                            const socket_row& row) {
    diverted d{};
    auto& a = d.addr;
    a.timestamp = now_ticks();
    a.layer = wd::layer_socket;
    a.event = event;
    a.outbound = event == wd::event_socket_connect ? 1 : 0;
    a.loopback = (row.remote_ip >> 24) == 127 ? 1 : 0;
    a.flow.endpoint_id = row.endpoint;
    a.flow.process_id = row.pid;
    if (row.ipv6) {
      // IPv6: the 16 bytes reversed (windivert.h: host order).
      a.ipv6 = 1;
      for (size_t i = 0; i < 4; ++i) {
        a.flow.local_addr[i] = net::load32(row.local6.data() + 12 - 4 * i);
        a.flow.remote_addr[i] = net::load32(row.remote6.data() + 12 - 4 * i);
      }
    } else {
      a.flow.local_addr[0] = row.local_ip;
      a.flow.local_addr[1] = 0xffff;
      a.flow.remote_addr[0] = row.remote_ip;
      a.flow.remote_addr[1] = row.remote_ip != 0 ? 0xffff : 0;
    }
    a.flow.local_port = std::get<1>(k);
    a.flow.remote_port = row.remote_port;
    a.flow.protocol = std::get<0>(k);
    return d;
  }

  std::map<socket_key, socket_row> known_;
  std::set<std::tuple<uint16_t, uint32_t, uint16_t>> udp_remotes_;
  std::set<std::pair<uint16_t, uint64_t>> udp6_remotes_; // port, remote
  uint64_t next_endpoint_ = 0;
};

// The link thread: packets in, verdicts out, events synthesized.
DWORD WINAPI link_main(void*) {
  socket_events events;
  std::vector<uint8_t> in;
  std::vector<char> buf(1 << 18);
  std::vector<diverted> packets, socket_events_out;
  std::vector<uint32_t> ids;
  std::vector<uint8_t> taken, events_taken;
  std::string verdicts;
  auto last_refresh = GetTickCount64();
  for (;;) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(link, &readable);
    timeval wait{0, 250000};
    if (select(0, &readable, nullptr, nullptr, &wait) == SOCKET_ERROR)
      break;
    socket_events_out.clear();
    if (GetTickCount64() - last_refresh >= 250) {
      events.refresh(socket_events_out);
      last_refresh = GetTickCount64();
    }
    packets.clear();
    ids.clear();
    size_t used = 0;
    if (FD_ISSET(link, &readable)) {
      int n = recv(link, buf.data(), static_cast<int>(buf.size()), 0);
      if (n <= 0)
        break; // the daemon is gone: nothing more arrives
      in.insert(in.end(), buf.begin(), buf.begin() + n);
      bridge::message m;
      while (bridge::next(in.data() + used, in.size() - used, m)) {
        used += m.total;
        bridge::packet_header h;
        if (m.kind != bridge::kind_packet || m.body_length <= sizeof h)
          continue;
        std::memcpy(&h, m.body, sizeof h);
        diverted d{};
        d.packet = {reinterpret_cast<const char*>(m.body + sizeof h),
                    m.body_length - sizeof h};
        d.addr.timestamp = now_ticks();
        d.addr.layer = wd::layer_network;
        d.addr.outbound = 1; // the queue holds what leaves
        d.addr.loopback = h.loopback != 0 ? 1u : 0u;
        d.addr.ipv6 = m.body_length > sizeof h && (m.body[sizeof h] >> 4) == 6
                          ? 1u
                          : 0u;
        // Checksum flags 0, as offloaded packets carry them.
        d.addr.network.if_idx = h.if_idx;
        events.before(reinterpret_cast<const uint8_t*>(d.packet.data()),
                      d.packet.size(), h.loopback != 0, socket_events_out);
        packets.push_back(d);
        ids.push_back(h.id);
      }
    }
    if (!socket_events_out.empty())
      divert_each(wd::layer_socket, socket_events_out, events_taken);
    if (tracing())
      for (size_t i = 0; i < socket_events_out.size(); ++i) {
        auto& f = socket_events_out[i].addr.flow;
        std::fprintf(stderr,
                     "emulator: event %u pid %u proto %u port %u -> %u "
                     "(%s)\n",
                     socket_events_out[i].addr.event, f.process_id, f.protocol,
                     f.local_port, f.remote_port,
                     events_taken[i] != 0 ? "taken" : "no handle");
      }
    if (!packets.empty()) {
      divert_each(wd::layer_network, packets, taken);
      verdicts.clear();
      for (size_t i = 0; i < packets.size(); ++i)
        bridge::append(verdicts, bridge::kind_verdict,
                       bridge::verdict_body{ids[i], taken[i]});
      if (!send_all(verdicts))
        break;
    }
    in.erase(in.begin(), in.begin() + static_cast<long>(used));
  }
  std::fprintf(stderr, "WinDivert emulator link: the daemon went away\n");
  return 0;
}

} // namespace

bool emulating() {
  return link != INVALID_SOCKET;
}

bool start_emulator_if_asked() {
  std::call_once(started, [] {
    char port[16];
    auto n = GetEnvironmentVariableA("DROVER_WINDIVERT_EMULATOR", port,
                                     sizeof port);
    if (n == 0 || n >= sizeof port)
      return;
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<u_short>(std::atoi(port)));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s == INVALID_SOCKET
        || connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      std::fprintf(
          stderr, "WinDivert emulator link: no daemon on 127.0.0.1:%s\n", port);
      std::abort(); // a test that asked for real packets gets none: fail
    }
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<char*>(&one),
               sizeof one);
    link = s;
    CloseHandle(CreateThread(nullptr, 0, link_main, nullptr, 0, nullptr));
  });
  return emulating();
}

bool tracing() {
  static bool on = [] {
    char value[8];
    return GetEnvironmentVariableA("WINDIVERT_EMULATOR_TRACE", value,
                                   sizeof value)
           > 0;
  }();
  return on;
}

void trace_packet(const char* what, int priority, std::string_view packet) {
  net::packet_info i;
  auto* p = reinterpret_cast<const uint8_t*>(packet.data());
  if (net::parse(p, packet.size(), i) != net::parse_error::none)
    return;
  std::fprintf(stderr, "emulator: %s %d: %s:%u > %s:%u flags %02x\n", what,
               priority, net::to_string(i.src.ip).c_str(), i.src.port,
               net::to_string(i.dst.ip).c_str(), i.dst.port, i.tcp_flags);
}

void emulator_inject(const std::vector<diverted>& packets, int priority) {
  std::string out;
  for (auto& d : packets) {
    if (tracing())
      trace_packet("sent by", priority, d.packet);
    bridge::inject_header h;
    h.outbound = d.addr.outbound;
    h.checksums = static_cast<uint8_t>(
        (d.addr.ip_checksum ? bridge::ip_checksum_ok : 0)
        | (d.addr.tcp_checksum ? bridge::tcp_checksum_ok : 0)
        | (d.addr.udp_checksum ? bridge::udp_checksum_ok : 0));
    h.if_idx = d.addr.network.if_idx;
    bridge::append(out, bridge::kind_inject, h, d.packet.data(),
                   d.packet.size());
  }
  send_all(out);
}

} // namespace drover::test::fake_windivert
