#pragma once

// The UDP side of the relay (stream_relay.cpp owns it beside the TCP
// threads): the kernel hands it the targets' datagrams on one transparent
// socket (TPROXY, each with its original destination), and it sends them
// through one SOCKS5 UDP association per application socket; the proxy's
// datagrams go back to the application from the remote's own address
// through a raw socket. One thread, no hand-off on the way: a batch in,
// a batch out, per association.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "actors/platform/linux/relay_thread.hpp"
#include "actors/platform/linux/relay_worker.hpp"
#include "actors/platform/packet_port.hpp"
#include "net/rate_limit.hpp"

namespace drover::platform::linux_port {

/// Ids of the relay's UDP flows end in this byte (TCP streams end in their
/// thread's index, below 8).
constexpr uint64_t datagram_id_tag = 0xff;

/// An endpoint as one number (a map key).
inline uint64_t packed(net::endpoint e) {
  return (uint64_t{e.ip.value} << 16) | e.port;
}

/// One application socket to one remote: a flow of the flow-manager.
struct datagram_flow {
  uint64_t id = 0;
  net::endpoint app, remote;
  uint64_t in = 0, out = 0; // payload bytes to and from the application
  uint64_t reported_in = 0, reported_out = 0;
};

enum class association_step : uint8_t { waiting, connecting, handshake, ready };

/// One SOCKS5 UDP association (RFC 1928 §7) for one application socket.
struct association {
  net::endpoint app;
  association_step step = association_step::waiting;
  bool dead = false;
  int control = -1;              // the TCP connection the association lives on
  int relay = -1;                // UDP, connected to the proxy's relay
  uint64_t generation = 0;       // which deadline belongs to this attempt
  relay_clock::time_point until; // of the attempt, or of the pause after one
  std::unique_ptr<net::socks5::client_handshake> exchange;
  std::vector<uint8_t> pending; // the proxy's bytes during the handshake
  // Datagrams waiting for the association (bounded; voice would be stale).
  std::deque<std::pair<net::endpoint, std::vector<uint8_t>>> waiting;
  size_t waiting_bytes = 0;
  size_t flows = 0;
};

class datagram_worker final : public relay_thread {
public:
  explicit datagram_worker(relay_shared& shared) : shared_(shared) {}
  ~datagram_worker() override;

  bool open(int intake, std::string& error);

private:
  static constexpr size_t batch = 32;
  static constexpr size_t slot_size = 65536; // the largest UDP datagram

  // What one received datagram becomes on its way out.
  struct outgoing {
    association* to = nullptr;
    uint8_t header[32]; // SOCKS5 UDP header, or IPv4+UDP header
    iovec parts[2];
    sockaddr_in address; // raw socket only
  };

  void run() override;
  bool on_wake(); // true: stop
  void on_intake();
  void on_datagram(net::endpoint app, net::endpoint remote, uint8_t* payload,
                   size_t size);
  void send_batches();
  void on_replies(association& a);
  void on_control(association& a, uint32_t events);
  void on_handshake(association& a);
  void connect(association& a);
  void ready(association& a, const net::socks5::address& bound);
  void fail(association& a, const std::string& why, bool proxy_fault);
  void end(association& a);
  void drop_flow(uint64_t id);
  datagram_flow* flow(net::endpoint app, net::endpoint remote);
  datagram_flow* known_flow(net::endpoint app, net::endpoint remote);
  void release_waiting(association& a);
  association* association_for(net::endpoint app);
  void check_deadlines(relay_clock::time_point now);
  void report_progress();
  void add_news(news_kind what, const datagram_flow& f);
  int next_timeout(relay_clock::time_point now) const;
  void watch(int fd, association* a, bool relay_side, uint32_t events, int op);
  void send_direct(net::endpoint app, net::endpoint remote,
                   const uint8_t* payload, size_t size);
  /// Answers a datagram that may not go out with an ICMP "port
  /// unreachable" from its remote (rate-limited).
  void refuse(net::endpoint app, net::endpoint remote, const uint8_t* payload,
              size_t size);
  void prepare_receive(bool with_control);

  relay_shared& shared_;
  int intake_ = -1;
  int raw_ = -1;        // IPPROTO_RAW, marked: replies to the applications
  int raw_direct_ = -1; // IPPROTO_RAW: datagrams let out direct
  net::endpoint own_;   // the intake's address
  byte_buffer direct_;  // a datagram let out direct (or refused), built whole
  static constexpr uint32_t refusals_per_second = 100; // RFC 1812 4.3.2.8
  net::per_second_limit refusals_{refusals_per_second};
  int epoll_ = -1;

  std::unordered_map<uint64_t, std::unique_ptr<association>> associations_;
  std::vector<std::unique_ptr<association>> ended_; // freed after each round
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, datagram_flow>>
      flows_; // by application, then by remote (both packed)
  std::unordered_map<uint64_t, std::pair<uint64_t, uint64_t>> by_id_;
  std::multimap<relay_clock::time_point, std::pair<uint64_t, uint64_t>>
      deadlines_; // (application, generation)
  uint64_t next_seq_ = 1;
  uint64_t dropped_ = 0, reported_dropped_ = 0;
  size_t waiting_total_ = 0;       // bytes waiting for associations, in all
  uint32_t intake_overflowed_ = 0; // the intake's SO_RXQ_OVFL, last seen

  // Receive and send batches: buffers reused, never zeroed.
  byte_buffer buffers_;
  std::array<mmsghdr, batch> in_{};
  std::array<iovec, batch> in_parts_{};
  std::array<sockaddr_in, batch> in_from_{};
  std::array<std::array<uint8_t, 64>, batch> in_control_{};
  std::array<outgoing, batch> out_{};
  std::array<mmsghdr, batch> out_msgs_{};
  size_t out_count_ = 0;

  news_batcher news_;
  relay_clock::time_point next_progress_;
};

} // namespace drover::platform::linux_port
