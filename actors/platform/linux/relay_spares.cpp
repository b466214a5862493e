// Spare proxy connections (actors/platform/linux/relay_worker.hpp): while
// targets open connections in bursts (a page, an application starting), a
// few SOCKS5 connections to the proxy are kept open and greeted, so a new
// stream's only round trip to the proxy is its CONNECT; the TCP handshake
// with the proxy and its greeting (and login) are paid ahead, off the
// application's path. A lone connection now and then makes none: nothing
// is opened that a burst did not ask for, and a spare unused for
// `spare_lifetime` is closed (proxies end connections that stay silent
// after their greeting: dante after 30 s).

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/platform/linux/relay_worker.hpp"
#include "actors/platform/sockets.hpp"

namespace drover::platform::linux_port {

namespace {

// A spare that failed (the proxy refused it, or answered wrongly) pauses
// them: the streams themselves then meet and report the trouble.
constexpr std::chrono::seconds pause_after_failure{5};
// A greeting's answers are a few bytes; more is not a SOCKS5 proxy.
constexpr size_t greeting_limit = 512;

} // namespace

void worker::keep_spares(relay_clock::time_point now) {
  const auto& opts = shared_.options;
  if (opts.spares == 0 || opts.proxy.http
      || shared_.mode.load() != relay_mode::proxy) {
    drop_spares();
    return;
  }
  // Oldest first: unused ones past their lifetime go, whatever a burst
  // wants (the proxy may be about to end them).
  while (!spares_.empty() && spares_.front()->born + opts.spare_lifetime <= now)
    drop_spare(*spares_.front(), false);
  if (now < spares_paused_until_)
    return;
  auto wanted = demand_.wanted(now, opts.spares);
  while (spares_.size() < wanted) {
    std::string why;
    int fd = start_tcp_connect(opts.proxy.proxy, why);
    if (fd == invalid_socket) {
      spares_paused_until_ = now + pause_after_failure;
      return;
    }
    auto c = std::make_unique<spare_connection>();
    c->fd = fd;
    c->born = now;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = reinterpret_cast<uint64_t>(c.get()) | 2;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      spares_paused_until_ = now + pause_after_failure;
      return;
    }
    spares_.push_back(std::move(c));
  }
}

bool worker::take_spare(stream& s) {
  for (auto it = spares_.begin(); it != spares_.end(); ++it) {
    auto& c = **it;
    if (!c.ready())
      continue;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = reinterpret_cast<uint64_t>(&s) | 1;
    if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
      drop_spare(c, false);
      return false;
    }
    s.up = c.fd;
    s.exchange = std::move(c.exchange);
    s.from_spare = true;
    c.fd = -1; // the stream's now; an event of this round for it is stale
    retired_spares_.push_back(std::move(*it));
    spares_.erase(it);
    return true;
  }
  return false;
}

void worker::on_spare_event(spare_connection& c, uint32_t events) {
  if (!c.exchange) { // still connecting
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
      return;
    if (connect_error(c.fd, events) != 0)
      return drop_spare(c, true);
    const auto& proxy = shared_.options.proxy;
    c.exchange = std::make_unique<net::socks5::client_handshake>(
        proxy.auth, proxy.login, proxy.password);
    auto greeting = c.exchange->start();
    if (::send(c.fd, greeting.bytes, greeting.size, MSG_NOSIGNAL)
        != static_cast<ssize_t>(greeting.size))
      drop_spare(c, true);
    return;
  }
  auto got = read_waiting(c.fd, c.pending, greeting_limit, events);
  if (got.too_much)
    return drop_spare(c, true);
  bool closed = got.closed || got.error != 0;
  if (c.ready()) {
    // A greeted proxy says nothing until asked: bytes or an end mean it
    // gave the connection up (its own timeout, a restart).
    if (closed || !c.pending.empty())
      drop_spare(c, false);
    return;
  }
  bool write_failed = false;
  auto step = net::socks5::drive(*c.exchange, c.pending,
                                 [&](const uint8_t* bytes, size_t size) {
                                   if (::send(c.fd, bytes, size, MSG_NOSIGNAL)
                                       != static_cast<ssize_t>(size))
                                     write_failed = true;
                                 });
  using action = net::socks5::client_handshake::step::action;
  if (write_failed || step.what == action::failed || step.what == action::done)
    return drop_spare(c, true);
  // Ready with bytes beyond the greeting's answer is not a SOCKS5 proxy.
  if (closed || (step.what == action::ready && !c.pending.empty()))
    drop_spare(c, true);
}

void worker::drop_spare(spare_connection& c, bool proxy_failed) {
  if (proxy_failed)
    spares_paused_until_ = relay_clock::now() + pause_after_failure;
  if (c.fd >= 0)
    ::close(c.fd); // leaves the epoll set with it
  c.fd = -1;
  for (auto it = spares_.begin(); it != spares_.end(); ++it)
    if (it->get() == &c) {
      retired_spares_.push_back(std::move(*it));
      spares_.erase(it);
      return;
    }
}

void worker::drop_spares() {
  while (!spares_.empty())
    drop_spare(*spares_.front(), false);
}

} // namespace drover::platform::linux_port
