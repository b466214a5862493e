#include "actors/platform/probe_socket.hpp"

#include <algorithm>

#include <winsock2.h>
// After winsock2.h, which must come first.
#include <windows.h>

#include "actors/platform/windows/win32.hpp"

namespace drover::platform {

namespace {

SOCKET native(socket_handle h) {
  return static_cast<SOCKET>(h);
}

std::string wsa_error() {
  return windows_port::error_text(
      static_cast<unsigned long>(WSAGetLastError()));
}

} // namespace

probe_socket::~probe_socket() {
  close_socket(handle_);
}

std::string probe_socket::open(kind k) {
  windows_port::ensure_winsock();
  SOCKET s = k == kind::stream ? socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
                               : socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET)
    return wsa_error();
  u_long on = 1;
  ioctlsocket(s, static_cast<long>(FIONBIO), &on);
  handle_ = static_cast<socket_handle>(s);
  return "";
}

std::string probe_socket::start_connect(net::endpoint to, bool& pending) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(to.port);
  a.sin_addr.s_addr = htonl(to.ip.value);
  pending = false;
  if (connect(native(handle_), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
    return "";
  if (WSAGetLastError() != WSAEWOULDBLOCK)
    return wsa_error();
  pending = true;
  return "";
}

std::string probe_socket::connect_result() {
  int err = 0;
  int len = sizeof err;
  getsockopt(native(handle_), SOL_SOCKET, SO_ERROR,
             reinterpret_cast<char*>(&err), &len);
  return err == 0 ? ""
                  : windows_port::error_text(static_cast<unsigned long>(err));
}

namespace {

probe_socket::status outcome(int r, size_t& n, std::string& error) {
  if (r >= 0) {
    n = static_cast<size_t>(r);
    return probe_socket::status::done;
  }
  auto code = WSAGetLastError();
  if (code == WSAEWOULDBLOCK || code == WSAEINTR)
    return probe_socket::status::would_block;
  // Winsock reports an ICMP port unreachable on a UDP socket this way.
  if (code == WSAECONNRESET || code == WSAECONNREFUSED)
    return probe_socket::status::refused;
  error = windows_port::error_text(static_cast<unsigned long>(code));
  return probe_socket::status::failed;
}

} // namespace

probe_socket::status probe_socket::send(const void* data, size_t size,
                                        size_t& n, std::string& error) {
  n = 0;
  return outcome(::send(native(handle_), static_cast<const char*>(data),
                        static_cast<int>(size), 0),
                 n, error);
}

probe_socket::status probe_socket::receive(void* data, size_t size, size_t& n,
                                           std::string& error) {
  n = 0;
  return outcome(recv(native(handle_), static_cast<char*>(data),
                      static_cast<int>(size), 0),
                 n, error);
}

bool probe_socket::wait(bool for_write, std::chrono::milliseconds timeout) {
  socket_wait w{handle_, for_write, false};
  return wait_any(&w, 1, timeout);
}

bool wait_any(socket_wait* sockets, size_t count,
              std::chrono::milliseconds timeout) {
  // select, not WSAPoll: WSAPoll does not report a failed connect on
  // Windows before 10 2004; select puts it in the exception set.
  fd_set readable, writable, failed;
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  count = std::min(count, max_socket_waits);
  for (size_t i = 0; i < count; ++i) {
    auto s = native(sockets[i].fd);
    FD_SET(s, sockets[i].for_write ? &writable : &readable);
    FD_SET(s, &failed);
  }
  timeval tv{static_cast<long>(timeout.count() / 1000),
             static_cast<long>(timeout.count() % 1000 * 1000)};
  int r = select(0, &readable, &writable, &failed, &tv);
  for (size_t i = 0; i < count; ++i) {
    auto s = native(sockets[i].fd);
    sockets[i].ready = r > 0
                       && (FD_ISSET(s, &readable) || FD_ISSET(s, &writable)
                           || FD_ISSET(s, &failed));
  }
  return r > 0;
}

} // namespace drover::platform
