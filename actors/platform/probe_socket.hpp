#pragma once

// A non-blocking IPv4 socket for code that waits on it with a deadline (the
// proxy check): just what the check needs, one implementation per OS.

#include <chrono>
#include <cstddef>
#include <string>

#include "actors/platform/sockets.hpp"
#include "net/packet.hpp"

namespace drover::platform {

class probe_socket {
public:
  enum class kind { stream, datagram };

  probe_socket() = default;
  ~probe_socket();
  probe_socket(const probe_socket&) = delete;
  probe_socket& operator=(const probe_socket&) = delete;

  /// "" on success, else the OS's words.
  std::string open(kind k);

  /// Starts connecting (a datagram socket: sets its only peer). `pending`
  /// says whether to wait for writability and ask connect_result().
  std::string start_connect(net::endpoint to, bool& pending);
  std::string connect_result();

  enum class status { done, would_block, refused, failed };

  /// Bytes moved go to `n`; `error` is set on `failed`. `refused`: an ICMP
  /// port-unreachable came back for a datagram sent earlier.
  status send(const void* data, size_t size, size_t& n, std::string& error);
  status receive(void* data, size_t size, size_t& n, std::string& error);

  /// Waits for readability (or writability); false on timeout or error.
  bool wait(bool for_write, std::chrono::milliseconds timeout);

  socket_handle handle() const { return handle_; }

  /// Takes a non-blocking socket made elsewhere (start_tcp_connect).
  void adopt(socket_handle h) {
    close_socket(handle_);
    handle_ = h;
  }
  /// Gives the socket up, open, to the caller.
  socket_handle release() {
    auto h = handle_;
    handle_ = invalid_socket;
    return h;
  }

private:
  socket_handle handle_ = invalid_socket;
};

/// One socket of wait_any: waited for until readable (or writable, which
/// includes a connect's end, failed or not); `ready` says it came.
struct socket_wait {
  socket_handle fd = invalid_socket;
  bool for_write = false;
  bool ready = false;
};

/// Sockets one wait_any watches at most (Windows' select sets hold 64).
constexpr size_t max_socket_waits = 64;

/// Waits until any of the first `count` (at most max_socket_waits) sockets
/// is ready or has failed, and marks them; false on timeout or error.
bool wait_any(socket_wait* sockets, size_t count,
              std::chrono::milliseconds timeout);

} // namespace drover::platform
