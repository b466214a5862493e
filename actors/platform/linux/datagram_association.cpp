// The datagram worker's associations (datagram_worker.hpp): made, failed,
// retried. One SOCKS5 UDP association (RFC 1928 §7) per application
// socket: a TCP control connection (greeting, login, UDP ASSOCIATE, then
// kept alive) and a UDP socket connected to the relay the proxy names.

#include <cerrno>

#include <sys/epoll.h>
#include <unistd.h>

#include "actors/platform/linux/datagram_worker.hpp"
#include "actors/platform/sockets.hpp"
#include "net/socks5.hpp"

namespace drover::platform::linux_port {

namespace {

namespace socks5 = net::socks5;

// A failed association is tried again after this pause, so a dead proxy
// is not hammered; datagrams wait meanwhile.
constexpr auto retry_pause = std::chrono::seconds{1};

} // namespace

void datagram_worker::connect(association& a) {
  std::string error;
  auto fd = start_tcp_connect(shared_.options.proxy.proxy, error);
  if (fd == invalid_socket)
    return fail(a, "cannot connect to the proxy: " + error,
                !out_of_descriptors());
  // An idle association sends nothing on its control connection for as
  // long as a call is quiet; keepalive probes keep NAT and proxy state
  // alive and find a dead proxy within a minute and a half.
  enable_keepalive(fd, std::chrono::seconds{30}, std::chrono::seconds{10}, 6);
  a.control = fd;
  a.step = association_step::connecting;
  a.until = relay_clock::now() + shared_.options.proxy.associate_timeout;
  deadlines_.emplace(a.until, std::make_pair(packed(a.app), ++a.generation));
  watch(fd, &a, false, EPOLLOUT | EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
}

void datagram_worker::fail(association& a, const std::string& why,
                           bool proxy_fault) {
  if (proxy_fault)
    shared_.events->proxy_failed("UDP: " + why);
  for (int* fd : {&a.control, &a.relay})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  a.exchange.reset();
  a.pending.clear();
  a.step = association_step::waiting;
  a.until = relay_clock::now() + retry_pause;
  deadlines_.emplace(a.until, std::make_pair(packed(a.app), ++a.generation));
}

void datagram_worker::on_control(association& a, uint32_t events) {
  if (a.step == association_step::connecting) {
    if (int err = connect_error(a.control, events))
      return fail(a, "cannot connect to the proxy: " + errno_text(err), true);
    if ((events & EPOLLOUT) == 0)
      return;
    const auto& proxy = shared_.options.proxy;
    // DST 0.0.0.0:0: where the datagrams will come from is not known in
    // advance (RFC 1928 allows zeros).
    a.exchange = std::make_unique<socks5::client_handshake>(
        proxy.auth, proxy.login, proxy.password, socks5::command::udp_associate,
        socks5::address::from_ipv4(net::ipv4_address{0}, 0));
    // Voice starts one round trip sooner when the proxy reads both at once.
    auto greeting = !proxy.auth && shared_.pipelining.load()
                        ? a.exchange->start_pipelined()
                        : a.exchange->start();
    a.step = association_step::handshake;
    watch(a.control, &a, false, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
    if (::send(a.control, greeting.bytes, greeting.size, MSG_NOSIGNAL)
        != static_cast<ssize_t>(greeting.size))
      fail(a, "the proxy closed the connection", true);
    return;
  }
  if (a.step == association_step::handshake)
    return on_handshake(a);
  // Ready: nothing more is expected on the control connection, but its end
  // ends the association (RFC 1928).
  uint8_t sink[512];
  for (;;) {
    auto n = ::recv(a.control, sink, sizeof sink, 0);
    if (n > 0)
      continue;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    return fail(a, "the proxy closed the association", true);
  }
}

void datagram_worker::on_handshake(association& a) {
  uint8_t buffer[1024];
  for (;;) {
    auto n = ::recv(a.control, buffer, sizeof buffer, 0);
    if (n > 0) {
      a.pending.insert(a.pending.end(), buffer, buffer + n);
      if (a.pending.size() > sizeof buffer)
        return fail(a, "the proxy sent too much before its reply", true);
      continue;
    }
    if (n == 0)
      return fail(a, "the proxy closed the connection during the handshake",
                  true);
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN)
      break;
    return fail(a, "the proxy's connection failed: " + errno_text(errno), true);
  }
  using action = socks5::client_handshake::step::action;
  bool write_failed = false;
  auto step = socks5::drive(*a.exchange, a.pending,
                            [&](const uint8_t* bytes, size_t size) {
                              if (::send(a.control, bytes, size, MSG_NOSIGNAL)
                                  != static_cast<ssize_t>(size))
                                write_failed = true;
                            });
  if (write_failed)
    return fail(a, "the proxy closed the connection", true);
  if (step.what == action::need_more)
    return;
  if (step.what != action::done)
    return fail(a,
                socks5::message(step.what == action::failed
                                    ? step.err
                                    : socks5::error::out_of_order),
                true);
  auto bound = a.exchange->bound();
  a.exchange.reset();
  a.pending.clear();
  ready(a, bound);
}

void datagram_worker::ready(association& a, const socks5::address& bound) {
  auto proxy_ip = shared_.options.proxy.proxy.ip;
  auto relay = socks5::relay_address(bound, proxy_ip);
  if (relay.type != socks5::address_type::ipv4)
    return fail(a, "the proxy named a UDP relay that is not IPv4", true);
  // The relay socket leaves from the control connection's address (the way
  // to the proxy), and is connected: the system drops datagrams from
  // anyone else (a host on the LAN forging a DNS or STUN reply).
  auto local = local_of(a.control);
  std::string error;
  auto fd = connected_udp(local ? local->ip : net::ipv4_address{0},
                          {relay.ipv4, relay.port}, error);
  if (fd == invalid_socket)
    return fail(a, "cannot reach the UDP relay: " + error,
                !out_of_descriptors());
  a.relay = fd;
  a.step = association_step::ready;
  watch(fd, &a, true, EPOLLIN, EPOLL_CTL_ADD);
  // What waited goes now, one by one (a moment's worth at most).
  uint8_t header[32];
  for (auto& [remote, payload] : a.waiting) {
    auto h = socks5::write_udp_header(
        header, sizeof header,
        socks5::address::from_ipv4(remote.ip, remote.port));
    iovec parts[2] = {{header, h}, {payload.data(), payload.size()}};
    msghdr m{};
    m.msg_iov = parts;
    m.msg_iovlen = 2;
    if (::sendmsg(fd, &m, MSG_DONTWAIT) < 0)
      dropped_++;
  }
  release_waiting(a);
}

void datagram_worker::check_deadlines(relay_clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto [app, generation] = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = associations_.find(app);
    if (it == associations_.end() || it->second->generation != generation)
      continue;
    auto& a = *it->second;
    if (a.step == association_step::waiting
        && shared_.udp_mode.load() != relay_mode::proxy) {
      // Not proxying (the proxy is down): the supervisor's check finds out
      // when it is back; no attempt, no report, each second meanwhile.
      a.until = now + retry_pause;
      deadlines_.emplace(a.until, std::make_pair(app, ++a.generation));
    } else if (a.step == association_step::waiting) {
      connect(a);
    } else if (a.step != association_step::ready)
      fail(a,
           "the proxy did not answer UDP ASSOCIATE within "
               + std::to_string(shared_.options.proxy.associate_timeout.count())
               + " ms",
           true);
  }
}

} // namespace drover::platform::linux_port
