// The relay's SOCKS5 side of a connection (actors/platform/linux/
// relay_worker.hpp): the proxy connection made, the name the application's
// first bytes give, the greeting and CONNECT, the reply.
#include <cerrno>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/platform/linux/relay_worker.hpp"
#include "net/host_name.hpp"
#include "net/http_connect.hpp"

namespace drover::platform::linux_port {

namespace {

namespace socks5 = net::socks5;

// The proxy's bytes during the handshake: its replies are short; what
// follows CONNECT's reply is the server's first bytes, bounded here.
constexpr size_t handshake_limit = 64 << 10;

} // namespace

void worker::on_connected(stream& s, uint32_t events) {
  int err = connect_error(s.up, events);
  if (err != 0) {
    auto why = errno_text(err);
    fail(s,
         s.direct ? "cannot connect: " + why
                  : "cannot connect to the proxy: " + why,
         !s.direct);
    return;
  }
  if (s.direct)
    return start_relaying(s);
  on_proxy_connected(s);
}

void worker::on_proxy_connected(stream& s) {
  if (!shared_.options.proxy.connect_by_name || s.by_address)
    return start_exchange(s);
  s.step = phase::naming;
  try_name(s);
}

// The name the application's first bytes give (a TLS ClientHello's SNI, an
// HTTP Host header), looked at without taking them: they stay in the socket
// for the relay to move on. Usually there by the time the proxy accepted
// (the application's handshake is local, the proxy's a round trip away);
// on a web port, or once part of a hello came, waited for a little longer.
void worker::try_name(stream& s) {
  uint8_t first[net::max_first_bytes];
  auto n = ::recv(s.app, first, sizeof first, MSG_PEEK);
  std::string host;
  auto found = net::first_bytes::unnamed;
  if (n > 0)
    found = net::host_of_first_bytes(first, static_cast<size_t>(n), host);
  else if (n < 0 && (errno == EAGAIN || errno == EINTR))
    found = net::first_bytes::need_more;
  if (found == net::first_bytes::need_more
      && (n > 0 || net::names_expected_on(s.remote.port))) {
    if (!s.name_awaited) {
      s.name_awaited = true;
      name_deadlines_.emplace_back(relay_clock::now() + net::name_wait, s.id);
    }
    return; // the application's next bytes, or the deadline
  }
  if (found == net::first_bytes::named)
    s.name = std::move(host);
  start_exchange(s);
}

void worker::start_exchange(stream& s) {
  const auto& proxy = shared_.options.proxy;
  if (proxy.http) {
    // One request; the answer comes as the SOCKS5 reply would.
    auto text = net::http_connect::request(
        s.name.empty() ? net::to_string(s.remote.ip) : s.name, s.remote.port,
        proxy.auth ? proxy.login : std::string{},
        proxy.auth ? proxy.password : std::string{});
    s.step = phase::handshake;
    if (::send(s.up, text.data(), text.size(), MSG_NOSIGNAL)
        != static_cast<ssize_t>(text.size()))
      fail(s, "the proxy closed the connection", true);
    return;
  }
  auto to = socks5::address::from_ipv4(s.remote.ip, s.remote.port);
  if (!s.name.empty())
    socks5::address::from_domain(s.name, s.remote.port, to);
  if (s.from_spare) { // greeted already: the request alone
    auto request = s.exchange->request(socks5::command::connect, to);
    s.step = phase::handshake;
    if (::send(s.up, request.bytes, request.size, MSG_NOSIGNAL)
        != static_cast<ssize_t>(request.size))
      reconnect(s); // the proxy gave the spare up meanwhile
    return;
  }
  s.exchange = std::make_unique<socks5::client_handshake>(
      proxy.auth, proxy.login, proxy.password, socks5::command::connect, to);
  bool pipelined = !proxy.auth && shared_.pipelining.load();
  auto greeting
      = pipelined ? s.exchange->start_pipelined() : s.exchange->start();
  if (pipelined) {
    // Woken once for the method selection and the reply together (2 + at
    // least 10 bytes), not once for each; an end or an error still wakes.
    int both = 12;
    ::setsockopt(s.up, SOL_SOCKET, SO_RCVLOWAT, &both, sizeof both);
    s.low_water = true;
  }
  s.step = phase::handshake;
  // A fresh socket's send buffer always takes the few bytes of a SOCKS5
  // message; a short write means the connection is already broken.
  if (::send(s.up, greeting.bytes, greeting.size, MSG_NOSIGNAL)
      != static_cast<ssize_t>(greeting.size))
    fail(s, "the proxy closed the connection", true);
}

// What the proxy's bytes so far say: wait for more, the tunnel is open
// (`pending` then holds only the server's first bytes), or it failed.
worker::reply worker::socks5_reply(stream& s, bool closed) {
  using action = socks5::client_handshake::step::action;
  bool write_failed = false;
  auto step = socks5::drive(*s.exchange, s.pending,
                            [&](const uint8_t* bytes, size_t size) {
                              if (::send(s.up, bytes, size, MSG_NOSIGNAL)
                                  != static_cast<ssize_t>(size))
                                write_failed = true;
                            });
  // Ended before a whole reply; after one (a refusal, or a server that
  // answered and closed at once) the reply decides, and the end of data
  // is read again by the relay.
  if (closed && step.what != action::failed && step.what != action::done) {
    bool greeting
        = s.exchange->current() == socks5::client_handshake::stage::greeting;
    return {reply::failed,
            greeting ? "the proxy refused or closed the connection"
                     : "the proxy closed the connection during the handshake",
            true, false};
  }
  if (write_failed)
    return {reply::failed, "the proxy closed the connection", true, false};
  if (step.what == action::need_more)
    return {reply::wait, {}, false, false};
  if (step.what != action::done) {
    auto err
        = step.what == action::failed ? step.err : socks5::error::out_of_order;
    bool login_failed = err == socks5::error::auth_rejected
                        || err == socks5::error::no_acceptable_method;
    // The proxy answered: it works; the destination is the trouble
    // (unreachable, refused), except for a failed login.
    return {reply::failed, socks5::message(err), login_failed,
            !login_failed && err != socks5::error::out_of_order};
  }
  s.exchange.reset();
  return {reply::open, {}, false, false};
}

worker::reply worker::http_reply(stream& s, bool closed) {
  using net::http_connect::outcome;
  auto a = net::http_connect::read_answer(s.pending.data(), s.pending.size());
  switch (a.what) {
    case outcome::need_more:
      if (closed)
        return {reply::failed,
                "the proxy closed the connection before its "
                "answer",
                true, false};
      return {reply::wait, {}, false, false};
    case outcome::connected:
      s.pending.erase(s.pending.begin(),
                      s.pending.begin() + static_cast<long>(a.header_size));
      return {reply::open, {}, false, false};
    case outcome::refused:
      // It answered: the destination (or its rules) is the trouble.
      return {reply::failed, net::http_connect::message(a), false, true};
    case outcome::auth_required:
    case outcome::not_http:
    case outcome::too_large:
      break;
  }
  return {reply::failed, net::http_connect::message(a), true, false};
}

int connect_error(int fd, uint32_t events) {
  // A failed connect always reports an error or a hang-up; a plain
  // "writable" is a connection made, without asking.
  if ((events & (EPOLLERR | EPOLLHUP)) == 0)
    return 0;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err != 0 ? err : ECONNRESET;
}

drained read_waiting(int fd, std::vector<uint8_t>& into, size_t limit,
                     uint32_t events) {
  uint8_t buffer[4096];
  // A read that leaves room emptied the socket: anything after it brings
  // an event of its own (edge-triggered), so the read that would only say
  // "nothing more" is saved; but an end or error already announced is
  // read to the end, or it would bring no other event.
  bool to_the_end = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  drained d;
  for (;;) {
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      into.insert(into.end(), buffer, buffer + n);
      if (into.size() > limit) {
        d.too_much = true;
        return d;
      }
      if (static_cast<size_t>(n) < sizeof buffer && !to_the_end)
        return d;
      continue;
    }
    if (n == 0)
      d.closed = true;
    else if (errno == EINTR)
      continue;
    else if (errno != EAGAIN)
      d.error = errno;
    return d;
  }
}

void worker::on_handshake(stream& s, uint32_t events) {
  auto got = read_waiting(s.up, s.pending, handshake_limit, events);
  if (got.too_much)
    return fail(s, "the proxy sent too much before its reply", true);
  if (got.error != 0) {
    if (s.from_spare && s.pending.empty())
      return reconnect(s); // reset: given up, as below
    return fail(s, "the proxy's connection failed: " + errno_text(got.error),
                true);
  }
  bool closed = got.closed;
  // A spare the proxy gave up (its timeout, a restart) before this
  // request reached it: a fresh connection, as if there had been no spare.
  if (closed && s.from_spare && s.pending.empty())
    return reconnect(s);
  auto r = s.exchange ? socks5_reply(s, closed) : http_reply(s, closed);
  if (r.what == reply::wait)
    return;
  if (r.what == reply::failed) {
    // A name the proxy could not resolve or reach may still work by the
    // address this computer found: what worked without names keeps working.
    if (r.by_address_may_work && !s.name.empty())
      return retry_by_address(s);
    return fail(s, r.why, r.proxy_fault);
  }
  s.exchange.reset();
  if (s.low_water) {
    int one = 1;
    ::setsockopt(s.up, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    s.low_water = false;
  }
  // What followed the reply is the server's first bytes: they wait in the
  // pipe towards the application like any later ones.
  if (!s.pending.empty()) {
    if (!take_pipe(s.to_app.pipe))
      return fail(s, "cannot open a pipe: " + errno_text(errno), false);
    auto n = ::write(s.to_app.pipe.w, s.pending.data(), s.pending.size());
    if (n != static_cast<ssize_t>(s.pending.size()))
      return fail(s, "cannot buffer the server's first bytes", false);
    s.to_app.pipe.held = s.pending.size();
  }
  s.pending.clear();
  s.pending.shrink_to_fit();
  start_relaying(s, !closed);
}

void worker::retry_by_address(stream& s) {
  s.name.clear();
  s.by_address = true;
  reconnect(s);
}

void worker::reconnect(stream& s) {
  ::close(s.up); // leaves the epoll set with it
  s.exchange.reset();
  s.pending.clear();
  s.from_spare = false;
  s.low_water = false;
  s.step = phase::connecting;
  std::string why;
  s.up = start_tcp_connect(shared_.options.proxy.proxy, why);
  if (s.up == invalid_socket)
    return fail(s, "cannot connect to the proxy: " + why,
                !out_of_descriptors());
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<uint64_t>(&s) | 1;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, s.up, &ev) != 0)
    fail(s, "the relay's event queue: " + errno_text(errno), false);
}

void worker::check_name_deadlines(relay_clock::time_point now) {
  while (!name_deadlines_.empty() && name_deadlines_.front().first <= now) {
    auto id = name_deadlines_.front().second;
    name_deadlines_.pop_front();
    auto it = streams_.find(id);
    if (it != streams_.end() && it->second->step == phase::naming)
      start_exchange(*it->second); // by its address
  }
}

} // namespace drover::platform::linux_port
