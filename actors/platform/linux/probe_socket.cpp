#include "actors/platform/probe_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace drover::platform {

probe_socket::~probe_socket() {
  if (handle_ >= 0)
    ::close(handle_);
}

std::string probe_socket::open(kind k) {
  handle_ = ::socket(AF_INET,
                     (k == kind::stream ? SOCK_STREAM : SOCK_DGRAM)
                         | SOCK_CLOEXEC | SOCK_NONBLOCK,
                     0);
  return handle_ < 0 ? std::strerror(errno) : "";
}

std::string probe_socket::start_connect(net::endpoint to, bool& pending) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(to.port);
  a.sin_addr.s_addr = htonl(to.ip.value);
  pending = false;
  if (::connect(handle_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
    return "";
  if (errno != EINPROGRESS)
    return std::strerror(errno);
  pending = true;
  return "";
}

std::string probe_socket::connect_result() {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(handle_, SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0 ? "" : std::strerror(err);
}

namespace {

probe_socket::status outcome(ssize_t r, size_t& n, std::string& error) {
  n = r > 0 ? static_cast<size_t>(r) : 0;
  if (r >= 0)
    return probe_socket::status::done;
  if (errno == EAGAIN || errno == EINTR)
    return probe_socket::status::would_block;
  if (errno == ECONNREFUSED) // an ICMP port unreachable, for UDP
    return probe_socket::status::refused;
  error = std::strerror(errno);
  return probe_socket::status::failed;
}

} // namespace

probe_socket::status probe_socket::send(const void* data, size_t size,
                                        size_t& n, std::string& error) {
  return outcome(::send(handle_, data, size, MSG_NOSIGNAL), n, error);
}

probe_socket::status probe_socket::receive(void* data, size_t size, size_t& n,
                                           std::string& error) {
  return outcome(::recv(handle_, data, size, 0), n, error);
}

bool probe_socket::wait(bool for_write, std::chrono::milliseconds timeout) {
  socket_wait w{handle_, for_write, false};
  return wait_any(&w, 1, timeout);
}

bool wait_any(socket_wait* sockets, size_t count,
              std::chrono::milliseconds timeout) {
  pollfd p[max_socket_waits];
  count = std::min(count, max_socket_waits);
  for (size_t i = 0; i < count; ++i)
    p[i] = {sockets[i].fd,
            static_cast<short>(sockets[i].for_write ? POLLOUT : POLLIN), 0};
  for (;;) {
    int r = ::poll(p, count, static_cast<int>(timeout.count()));
    if (r < 0 && errno == EINTR)
      continue;
    // An error or a hang-up is reported whatever was asked for.
    for (size_t i = 0; i < count; ++i)
      sockets[i].ready = r > 0 && p[i].revents != 0;
    return r > 0;
  }
}

} // namespace drover::platform
