#pragma once

// Spare proxy connections for the engine's own TCP sessions (Windows' path,
// and Linux's when the kernel cannot redirect): while the targets open
// connections in bursts, a few connections to the proxy are opened and
// greeted (and logged in) ahead of need, so a new session's only round trip
// to the proxy is its CONNECT. The Linux relay keeps its own in its event
// loop (linux/relay_spares.cpp); both follow net::spare_demand.
//
// One thread makes them, as many at once as the burst wants (a burst's
// first connections go without; the rest find one ready). A spare unused
// for `lifetime` is closed: proxies end a connection that stays silent
// after its greeting (dante after 30 s).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/platform/sockets.hpp"
#include "net/packet.hpp"
#include "net/socks5_handshake.hpp"
#include "net/spare_demand.hpp"

namespace drover::platform {

struct spare_pool_options {
  net::endpoint proxy;
  bool auth = false;
  std::string login;
  std::string password;
  unsigned spares = 4; // at most; 0: none
  std::chrono::milliseconds lifetime{10000};
  std::chrono::milliseconds connect_timeout{10000};
};

/// A connection greeted and logged in: its exchange stands at
/// stage::ready, so request() sends the CONNECT.
struct spare_connection {
  socket_handle fd = invalid_socket;
  std::unique_ptr<net::socks5::client_handshake> exchange;
  /// The login the exchange was made with (it keeps views of them).
  std::shared_ptr<const spare_pool_options> options;

  spare_connection() = default;
  spare_connection(const spare_connection&) = delete;
  spare_connection& operator=(const spare_connection&) = delete;
  ~spare_connection() { close_socket(fd); }
};

class spare_pool {
public:
  explicit spare_pool(spare_pool_options options);
  ~spare_pool(); // closes the spares; waits for the thread (at most 50 ms)

  /// A new session is about to connect: counted for the demand, and a
  /// spare if one is ready and still open (null otherwise: connect anew).
  /// Never blocks on the network.
  std::unique_ptr<spare_connection> take();

  /// The way to the proxy may change (the computer goes to sleep; its
  /// clock may not count the sleep): the spares go, and the burst that
  /// asked for them is over.
  void drop_all();

  struct counters {
    uint64_t opened = 0; // spares that became ready
    uint64_t failed = 0; // the proxy refused or did not answer a spare
    uint64_t ended = 0;  // ready ones the proxy ended before they were used
  };
  counters stats() const;

private:
  struct ready_spare {
    std::unique_ptr<spare_connection> spare;
    net::spare_demand::clock::time_point born;
  };
  struct in_progress; // a spare connecting, greeting or logging in
  using making_list = std::vector<std::unique_ptr<in_progress>>;
  struct progress_made {
    std::vector<std::unique_ptr<spare_connection>> ready;
    unsigned failed = 0;
  };
  void run();
  std::unique_ptr<in_progress> start_one();
  progress_made advance(making_list& making);
  enum class step_result { going, ready, failed };
  step_result step(in_progress& m);
  bool still_open(socket_handle fd);

  std::shared_ptr<const spare_pool_options> options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::deque<ready_spare> ready_; // oldest first
  net::spare_demand demand_;
  counters counters_;
  std::thread thread_;
};

} // namespace drover::platform
