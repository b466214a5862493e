#include "actors/platform/sockets.hpp"

#include <winsock2.h>
#include <ws2tcpip.h>
// After winsock2.h (a separate block keeps clang-format from sorting them).
#include <mstcpip.h>
#include <windows.h>

#include <cstring>

#include "actors/platform/windows/win32.hpp"

namespace drover::platform {

namespace {

sockaddr_in to_sockaddr(net::endpoint e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(e.port);
  a.sin_addr.s_addr = htonl(e.ip.value);
  return a;
}

SOCKET open_stream() {
  windows_port::ensure_winsock();
  // Not inheritable: a program Drover starts must not keep its sockets.
  return WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}

void set_nonblocking(SOCKET s) {
  u_long on = 1;
  ioctlsocket(s, static_cast<long>(FIONBIO), &on);
}

} // namespace

socket_handle listen_tcp(net::endpoint& at, std::string& error) {
  SOCKET s = open_stream();
  if (s == INVALID_SOCKET) {
    error = last_socket_error();
    return invalid_socket;
  }
  // Exclusive: no other program may bind the same port beside Drover's
  // listener and receive its redirected connections.
  BOOL on = TRUE;
  setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
             reinterpret_cast<const char*>(&on), sizeof on);
  auto a = to_sockaddr(at);
  int len = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), len) != 0
      || listen(s, SOMAXCONN) != 0
      || getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    error = "cannot listen on " + net::to_string(at.ip) + ": "
            + last_socket_error();
    closesocket(s);
    return invalid_socket;
  }
  set_nonblocking(s);
  at.port = ntohs(a.sin_port);
  return static_cast<socket_handle>(s);
}

socket_handle listen_for_redirects(net::endpoint& at, std::string& error) {
  // WinDivert rewrites to this port; Windows reserves no port range for
  // administrators, so any free port (the listener is exclusive).
  return listen_tcp(at, error);
}

socket_handle open_datagram_intake(net::endpoint&, std::string& error) {
  error = "WinDivert brings datagrams as packets";
  return invalid_socket;
}

socket_handle start_tcp_connect(net::endpoint to, std::string& error) {
  SOCKET s = open_stream();
  if (s == INVALID_SOCKET) {
    error = last_socket_error();
    return invalid_socket;
  }
  set_nonblocking(s);
  BOOL on = TRUE;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&on),
             sizeof on);
  auto a = to_sockaddr(to);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      && WSAGetLastError() != WSAEWOULDBLOCK) {
    error = last_socket_error();
    closesocket(s);
    return invalid_socket;
  }
  return static_cast<socket_handle>(s);
}

socket_handle duplicate_socket(socket_handle s) {
  // A second SOCKET for the same connection, in this process.
  WSAPROTOCOL_INFOW info;
  if (WSADuplicateSocketW(static_cast<SOCKET>(s), GetCurrentProcessId(), &info)
      != 0)
    return invalid_socket;
  SOCKET d
      = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                   &info, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (d == INVALID_SOCKET)
    return invalid_socket;
  set_nonblocking(d);
  return static_cast<socket_handle>(d);
}

void enable_keepalive(socket_handle s, std::chrono::seconds idle,
                      std::chrono::seconds interval, int) {
  // Windows sends 10 probes (not settable per socket before Windows 10
  // 1703's TCP_KEEPCNT, which wine lacks); the idle time and the interval
  // are what matter for NAT state.
  tcp_keepalive ka{};
  ka.onoff = 1;
  ka.keepalivetime = static_cast<ULONG>(idle.count() * 1000);
  ka.keepaliveinterval = static_cast<ULONG>(interval.count() * 1000);
  DWORD returned = 0;
  WSAIoctl(static_cast<SOCKET>(s), SIO_KEEPALIVE_VALS, &ka, sizeof ka, nullptr,
           0, &returned, nullptr, nullptr);
}

std::string last_socket_error() {
  return windows_port::error_text(
      static_cast<unsigned long>(WSAGetLastError()));
}

bool out_of_descriptors() {
  auto e = WSAGetLastError();
  return e == WSAEMFILE || e == WSAENOBUFS;
}

void close_socket(socket_handle s) {
  if (s != invalid_socket)
    closesocket(static_cast<SOCKET>(s));
}

void cut_connection(socket_handle s) {
  if (s != invalid_socket)
    ::shutdown(static_cast<SOCKET>(s), SD_BOTH);
}

std::optional<net::endpoint> peer_of(socket_handle s) {
  sockaddr_in a{};
  int len = sizeof a;
  if (getpeername(static_cast<SOCKET>(s), reinterpret_cast<sockaddr*>(&a), &len)
          != 0
      || a.sin_family != AF_INET)
    return std::nullopt;
  return net::endpoint{net::ipv4_address{ntohl(a.sin_addr.s_addr)},
                       ntohs(a.sin_port)};
}

std::optional<net::endpoint> local_of(socket_handle s) {
  sockaddr_in a{};
  int len = sizeof a;
  if (getsockname(static_cast<SOCKET>(s), reinterpret_cast<sockaddr*>(&a), &len)
          != 0
      || a.sin_family != AF_INET)
    return std::nullopt;
  return net::endpoint{net::ipv4_address{ntohl(a.sin_addr.s_addr)},
                       ntohs(a.sin_port)};
}

size_t write_socket_address(net::endpoint e, void* out, size_t capacity) {
  auto a = to_sockaddr(e);
  if (capacity < sizeof a)
    return 0;
  std::memcpy(out, &a, sizeof a);
  return sizeof a;
}

socket_handle connected_udp(net::ipv4_address local, net::endpoint peer,
                            std::string& error) {
  windows_port::ensure_winsock();
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET) {
    error = last_socket_error();
    return invalid_socket;
  }
  auto here = to_sockaddr({local, 0});
  auto there = to_sockaddr(peer);
  if (bind(s, reinterpret_cast<sockaddr*>(&here), sizeof here) != 0
      || connect(s, reinterpret_cast<sockaddr*>(&there), sizeof there) != 0) {
    error = last_socket_error();
    closesocket(s);
    return invalid_socket;
  }
  set_nonblocking(s);
  return static_cast<socket_handle>(s);
}

bool has_route_to(net::ipv4_address ip) {
  windows_port::ensure_winsock();
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET)
    return false;
  // A UDP connect() only looks the route up.
  auto a = to_sockaddr({ip, 9});
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  closesocket(s);
  return ok;
}

std::optional<net::ipv4_address> resolve_ipv4(const std::string& host,
                                              std::string& error) {
  if (auto literal = net::parse_ipv4(host))
    return literal;
  windows_port::ensure_winsock();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    error = "cannot resolve " + host + ": "
            + windows_port::error_text(static_cast<unsigned long>(rc));
    return std::nullopt;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(res->ai_addr);
  net::ipv4_address ip{ntohl(a->sin_addr.s_addr)};
  freeaddrinfo(res);
  return ip;
}

} // namespace drover::platform
