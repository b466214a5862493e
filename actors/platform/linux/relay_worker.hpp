#pragma once

// One thread of the TCP relay (stream_relay.cpp, which owns the listener
// and the threads): it accepts the connections the kernel redirected, does
// each one's SOCKS5 CONNECT and moves its bytes with splice(). Each thread
// owns its streams alone; other threads only queue commands (close one,
// close all, stop) and wake it.

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <netinet/in.h>

#include "actors/platform/linux/relay_thread.hpp"
#include "actors/platform/stream_relay.hpp"
#include "net/socks5_handshake.hpp"
#include "net/spare_demand.hpp"

namespace drover::platform::linux_port {

using relay_clock = std::chrono::steady_clock;
using news_kind = net::stream_news::kind;

/// What the relay and its threads share: fixed before the threads start,
/// but for the mode.
struct relay_shared {
  relay_options options;
  relay_events* events = nullptr;
  std::atomic<relay_mode> mode{relay_mode::refuse};     // TCP
  std::atomic<relay_mode> udp_mode{relay_mode::refuse}; // datagrams
  std::atomic<bool> pipelining{false}; // stream_relay::set_pipelining
  net::endpoint own;                   // the listener's address
};

/// News waits a little, so a burst of new flows costs the flow-manager
/// one message, and one flow at a time does not wake it for each event
/// (opened, ended) on a busy machine.
class news_batcher {
public:
  static constexpr size_t batch = 256;
  static constexpr std::chrono::milliseconds delay{20};

  void add(const net::stream_news& n) {
    if (news_.empty())
      since_ = relay_clock::now();
    news_.push_back(n);
  }
  /// `until`, or earlier if news waits and must go by then.
  relay_clock::time_point due(relay_clock::time_point until) const {
    return news_.empty() ? until : std::min(until, since_ + delay);
  }
  /// Hands what waits to `events` if enough waits or it waited enough.
  void flush(relay_clock::time_point now, relay_events& events) {
    if (news_.empty() || (news_.size() < batch && now - since_ < delay))
      return;
    events.news(std::move(news_));
    news_ = {};
    news_.reserve(64);
  }

private:
  net::stream_news_batch news_;
  relay_clock::time_point since_;
};

net::endpoint endpoint_of(const sockaddr_in& a);
std::string errno_text(int e);

/// What a read of everything waiting on a socket found.
struct drained {
  bool closed = false;   // its end of data
  int error = 0;         // errno of a failed read (a reset)
  bool too_much = false; // more than `limit` in all
};
/// Appends what `fd` has (a proxy's few handshake bytes) to `into`, until
/// it has no more; `events` are epoll's for it.
drained read_waiting(int fd, std::vector<uint8_t>& into, size_t limit,
                     uint32_t events);
/// The error of a non-blocking connect that epoll reported with `events`
/// (0: connected).
int connect_error(int fd, uint32_t events);

struct pipe_buffer {
  int r = -1, w = -1;
  size_t held = 0; // bytes in it, not yet written on
};

// naming: the proxy accepted; the application's first bytes may name the
// server (TLS SNI, HTTP Host), which the proxy is then asked for by name.
enum class phase : uint8_t { connecting, naming, handshake, relaying };

// One direction of a stream: source socket -> pipe -> destination socket.
struct direction {
  pipe_buffer pipe;        // from the pool while bytes wait in it
  bool read_done = false;  // the source sent its FIN
  bool write_done = false; // ... and it was passed on
  uint64_t bytes = 0;      // written to the destination
};

struct stream {
  uint64_t id = 0;
  int app = -1, up = -1;
  net::endpoint app_at, remote;
  phase step = phase::connecting;
  bool direct = false;
  bool dead = false;
  bool name_awaited = false; // a name deadline is set
  bool by_address = false;   // the name failed at the proxy: the address
  bool from_spare = false;   // its proxy connection was greeted ahead
  bool low_water = false;    // SO_RCVLOWAT raised on `up`
  std::string name;          // CONNECT by this name (empty: the address)
  relay_clock::time_point deadline;
  std::unique_ptr<net::socks5::client_handshake> exchange;
  std::vector<uint8_t> pending; // the proxy's bytes during the handshake
  direction to_up, to_app;
  uint64_t reported_in = 0, reported_out = 0;
};

// A proxy connection opened and greeted ahead of need (relay_spares.cpp):
// the next stream only sends its request on it.
struct spare_connection {
  int fd = -1;
  relay_clock::time_point born;
  std::unique_ptr<net::socks5::client_handshake> exchange;
  std::vector<uint8_t> pending; // the proxy's bytes during the greeting
  /// Greeted (and logged in): a request may go.
  bool ready() const {
    return exchange
           && exchange->current()
                  == net::socks5::client_handshake::stage::ready;
  }
};

class worker final : public relay_thread {
public:
  worker(relay_shared& shared, unsigned index)
      : shared_(shared), index_(index) {}
  ~worker() override;

  bool open(int listener, std::string& error);

private:
  void run() override;
  bool on_wake(); // true: stop
  void accept_all();
  void on_accept(int fd, const sockaddr_in& peer);
  void on_event(stream& s, bool up_side, uint32_t events);
  bool watch(stream& s);
  void on_connected(stream& s, uint32_t events);
  void on_proxy_connected(stream& s); // connected (and maybe greeted)
  void try_name(stream& s);
  void start_exchange(stream& s);
  void retry_by_address(stream& s);
  void reconnect(stream& s); // a fresh proxy connection for `s`
  // Spare proxy connections (relay_spares.cpp).
  void keep_spares(relay_clock::time_point now);
  bool take_spare(stream& s);
  void on_spare_event(spare_connection& c, uint32_t events);
  void drop_spare(spare_connection& c, bool proxy_failed);
  void drop_spares();
  void on_handshake(stream& s, uint32_t events);
  struct reply {
    enum { wait, open, failed } what = wait;
    std::string why;                  // failed: for the log
    bool proxy_fault = false;         // failed: the proxy's, not the server's
    bool by_address_may_work = false; // failed: the destination refused
  };
  reply socks5_reply(stream& s, bool closed);
  reply http_reply(stream& s, bool closed);
  // `up_drained`: the proxy side was just read until it had no more.
  void start_relaying(stream& s, bool up_drained = false);
  // Moves what `d` can move now; false if the stream ended.
  bool pump(stream& s, direction& d, int from, int to);
  void after_pump(stream& s);
  void finish(stream& s, bool reset);
  void fail(stream& s, const std::string& why, bool proxy_fault);
  bool take_pipe(pipe_buffer& p);
  void give_back(pipe_buffer& p);
  void report_progress();
  void check_deadlines(relay_clock::time_point now);
  void check_name_deadlines(relay_clock::time_point now);
  void add_news(news_kind what, const stream& s);
  void add_news(net::stream_news n);
  void add_news(news_kind what, net::endpoint app, net::endpoint remote);
  int next_timeout(relay_clock::time_point now) const;

  relay_shared& shared_;
  unsigned index_;
  int listener_ = -1;
  int epoll_ = -1;
  std::unordered_map<uint64_t, std::unique_ptr<stream>> streams_;
  std::vector<std::unique_ptr<stream>> ended_; // freed after each round
  std::deque<std::pair<relay_clock::time_point, uint64_t>> deadlines_;
  // The waits for a name: all of one length, so in order as the others.
  std::deque<std::pair<relay_clock::time_point, uint64_t>> name_deadlines_;
  std::vector<pipe_buffer> spare_;
  news_batcher news_;
  uint64_t next_seq_ = 1;
  relay_clock::time_point next_progress_;
  bool accept_later_ = false; // out of descriptors: try again on the tick
  std::vector<std::unique_ptr<spare_connection>> spares_; // oldest first
  std::vector<std::unique_ptr<spare_connection>> retired_spares_; // a round
  net::spare_demand demand_;                    // how many spares a burst wants
  relay_clock::time_point spares_paused_until_; // after a spare failed
};

} // namespace drover::platform::linux_port
