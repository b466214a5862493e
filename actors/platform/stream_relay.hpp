#pragma once

// The relay: where the kernel hands a target's connections to Drover
// (Linux: nat REDIRECT to a loopback listener, the original destination
// from SO_ORIGINAL_DST). Each connection gets its SOCKS5 CONNECT and then
// has its bytes moved between the two sockets by the kernel (splice), on
// the relay's own threads: no copy into the engine, no actor message per
// read. The targets' UDP datagrams (Linux: TPROXY to a transparent socket)
// go through one SOCKS5 UDP association per application socket, on a
// thread of their own. What happens to streams and flows is reported in
// batches (stream_news); the flow-manager keeps the table, this only moves
// bytes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/platform/sockets.hpp"
#include "net/stream_news.hpp"

namespace drover::platform {

struct relay_proxy {
  net::endpoint proxy;
  bool auth = false;
  std::string login; // never logged
  std::string password;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds associate_timeout{10000}; // UDP ASSOCIATE
  /// CONNECT by the host name the application's first bytes give (TLS SNI,
  /// HTTP Host), so the proxy resolves it; else, and without one, by the
  /// address the application connected to.
  bool connect_by_name = true;
  /// An HTTP proxy (CONNECT, TCP only), not SOCKS5.
  bool http = false;
};

/// What happens to a new connection (or an application socket's datagrams):
/// the flow-manager's policy.
enum class relay_mode : uint8_t { proxy, refuse, direct };

/// Called on the relay's threads; must return quickly.
class relay_events {
public:
  virtual ~relay_events() = default;
  virtual void news(net::stream_news_batch&& batch) = 0;
  /// The proxy failed a connection (refused, timed out, closed during the
  /// handshake): the engine checks it.
  virtual void proxy_failed(const std::string& why) = 0;
};

struct relay_options {
  relay_proxy proxy;
  relay_mode mode = relay_mode::refuse;     // TCP
  relay_mode udp_mode = relay_mode::refuse; // datagrams
  /// 0: one per two processors (at least one, at most eight).
  unsigned threads = 0;
  /// How often moved bytes are reported.
  std::chrono::milliseconds progress_interval{1000};
  /// Which proxy's relay this is (0..7): bits 8..11 of every stream and
  /// flow id it reports, so the relays of several proxies never share one.
  uint8_t channel = 0;
  /// SOCKS5 connections to the proxy opened and greeted ahead of need
  /// while targets open connections in bursts (at most this many a
  /// thread; 0: none), so a new connection's only round trip to the proxy
  /// is its CONNECT. One unused for `spare_lifetime` is closed.
  unsigned spares = 4;
  std::chrono::milliseconds spare_lifetime{10000};
};

/// Which relay (`relay_options::channel`) a stream or flow id came from.
constexpr uint32_t relay_channel_of(uint64_t id) {
  return static_cast<uint32_t>((id >> 8) & 0xf);
}

class stream_relay {
public:
  virtual ~stream_relay() = default; // every stream closed, threads joined
  /// False (with `error`) if the paused listener could not listen again:
  /// new connections are then refused, and the relay must be replaced.
  /// `udp`: what new datagrams get (a TCP-only proxy: not the proxy).
  virtual bool set_mode(relay_mode tcp, relay_mode udp, std::string& error) = 0;
  virtual relay_mode mode() const = 0; // TCP's
  /// The proxy check found that the proxy reads a greeting and a request
  /// sent together (no login): new exchanges send them so, one round trip
  /// shorter. Off until a check says so, and again when one does not.
  virtual void set_pipelining(bool proxy_reads_pipelined) = 0;
  /// Ends one stream (its flow left the table: evicted, expired).
  virtual void close(uint64_t id) = 0;
  /// Ends every stream (the computer goes to sleep).
  virtual void close_all() = 0;
};

/// Starts relaying the connections `listener` (listening, this call takes
/// it) accepts, and, if `intake` is not invalid_socket (open_datagram_intake,
/// taken too), the datagrams the kernel hands it, each application socket's
/// through one SOCKS5 UDP association; nullptr with `error` set if it
/// cannot. Where the OS has no such relay, always nullptr.
std::unique_ptr<stream_relay> start_stream_relay(socket_handle listener,
                                                 socket_handle intake,
                                                 relay_options options,
                                                 relay_events& events,
                                                 std::string& error);

} // namespace drover::platform
