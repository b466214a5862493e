#include "actors/platform/linux/relay_worker.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/platform/sockets.hpp"

#ifndef SO_ORIGINAL_DST
#  define SO_ORIGINAL_DST 80 // <linux/netfilter_ipv4.h>
#endif

namespace drover::platform::linux_port {

namespace {

namespace socks5 = net::socks5;

// A pipe is the kernel's buffer between the two sockets (splice moves page
// references, not bytes). Bulk moves in large steps; each thread keeps a
// few spare pipes, so an idle stream holds none: two descriptors a flow.
constexpr int pipe_capacity = 1 << 20;
constexpr size_t spare_pipes = 8;
constexpr int max_events = 256;

// epoll data: 0 the listener, 1 the wake-up, else a stream's address with
// the lowest bit set for its proxy-side socket, or a spare proxy
// connection's with the second bit set.
constexpr uint64_t listener_tag = 0;
constexpr uint64_t wake_tag = 1;

// Closed with a reset, so the peer learns at once that the stream is gone
// (as if the path itself had broken), not with an orderly end of data.
void close_with_reset(int fd) {
  if (fd < 0)
    return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

} // namespace

net::endpoint endpoint_of(const sockaddr_in& a) {
  return {net::ipv4_address{ntohl(a.sin_addr.s_addr)}, ntohs(a.sin_port)};
}

std::string errno_text(int e) {
  return std::strerror(e);
}

worker::~worker() {
  for (auto& [id, s] : streams_) {
    close_with_reset(s->app);
    close_with_reset(s->up);
    for (auto* d : {&s->to_up, &s->to_app})
      if (d->pipe.r >= 0) {
        ::close(d->pipe.r);
        ::close(d->pipe.w);
      }
  }
  for (auto& c : spares_)
    ::close(c->fd);
  for (auto& p : spare_) {
    ::close(p.r);
    ::close(p.w);
  }
  if (epoll_ >= 0)
    ::close(epoll_);
}

bool worker::open(int listener, std::string& error) {
  listener_ = listener;
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0 || !mailbox_.open()) {
    error = "the relay's event queue: " + errno_text(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, mailbox_.fd(), &ev) != 0) {
    error = "the relay's event queue: " + errno_text(errno);
    return false;
  }
  // Each new connection wakes one thread (EXCLUSIVE), which accepts all
  // that wait (edge-triggered).
  ev.events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE;
  ev.data.u64 = listener_tag;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener, &ev) != 0) {
    error = "the relay's listener: " + errno_text(errno);
    return false;
  }
  return true;
}

int worker::next_timeout(relay_clock::time_point now) const {
  auto until = news_.due(next_progress_);
  if (!deadlines_.empty())
    until = std::min(until, deadlines_.front().first);
  if (!name_deadlines_.empty())
    until = std::min(until, name_deadlines_.front().first);
  if (accept_later_)
    until = std::min(until, now + std::chrono::milliseconds{100});
  if (!spares_.empty())
    until = std::min(until,
                     spares_.front()->born + shared_.options.spare_lifetime);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now)
                .count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
}

void worker::run() {
  epoll_event events[max_events];
  next_progress_ = relay_clock::now() + shared_.options.progress_interval;
  for (;;) {
    int n = ::epoll_wait(epoll_, events, max_events,
                         next_timeout(relay_clock::now()));
    for (int i = 0; i < n; ++i) {
      auto tag = events[i].data.u64;
      if (tag == listener_tag) {
        accept_all();
      } else if (tag == wake_tag) {
        if (on_wake())
          return; // the destructor resets what is still open
      } else if ((tag & 2) != 0) {
        auto* c = reinterpret_cast<spare_connection*>(tag & ~uint64_t{3});
        if (c->fd >= 0)
          on_spare_event(*c, events[i].events);
      } else {
        auto* s = reinterpret_cast<stream*>(tag & ~uint64_t{1});
        if (!s->dead)
          on_event(*s, (tag & 1) != 0, events[i].events);
      }
    }
    auto now = relay_clock::now();
    if (accept_later_) {
      accept_later_ = false;
      accept_all();
    }
    check_deadlines(now);
    check_name_deadlines(now);
    if (now >= next_progress_) {
      report_progress();
      next_progress_ = now + shared_.options.progress_interval;
    }
    keep_spares(now);
    news_.flush(now, *shared_.events);
    ended_.clear();
    retired_spares_.clear();
  }
}

bool worker::on_wake() {
  auto posted = mailbox_.take();
  if (posted.stop)
    return true;
  if (posted.all) {
    // The way to the proxy may change too (sleep): the spares go, and the
    // burst that asked for them is over.
    drop_spares();
    demand_.forget();
    std::vector<stream*> open;
    for (auto& [id, s] : streams_)
      open.push_back(s.get());
    for (auto* s : open)
      finish(*s, true);
    return false;
  }
  for (auto id : posted.ids) {
    auto it = streams_.find(id);
    if (it != streams_.end())
      finish(*it->second, true);
  }
  return false;
}

void worker::accept_all() {
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept(fd, peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
        || errno == ENOMEM)
      accept_later_ = true; // it waits in the kernel's queue meanwhile
    return;
  }
}

void worker::add_news(net::stream_news n) {
  news_.add(n);
}

void worker::add_news(news_kind what, net::endpoint app, net::endpoint remote) {
  net::stream_news n;
  n.what = what;
  n.app = app;
  n.remote = remote;
  add_news(n);
}

void worker::add_news(news_kind what, const stream& s) {
  net::stream_news n;
  n.what = what;
  n.id = s.id;
  n.app = s.app_at;
  n.remote = s.remote;
  n.in = s.to_app.bytes;
  n.out = s.to_up.bytes;
  add_news(n);
}

void worker::on_accept(int fd, const sockaddr_in& peer) {
  auto app = endpoint_of(peer);
  sockaddr_in original{};
  socklen_t len = sizeof original;
  bool redirected
      = ::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &original, &len) == 0;
  auto remote = endpoint_of(original);
  // The kernel redirects only targets' connections to other hosts; one to
  // the listener itself is a local program using it as an open relay into
  // the user's proxy: never.
  if (!redirected || remote == shared_.own || (remote.ip.value >> 24) == 127) {
    add_news(news_kind::not_redirected, app, remote);
    close_with_reset(fd);
    return;
  }
  auto mode = shared_.mode.load();
  if (mode == relay_mode::refuse) {
    add_news(news_kind::declined, app, remote);
    close_with_reset(fd);
    return;
  }
  auto s = std::make_unique<stream>();
  s->id
      = (next_seq_++ << 12) | (uint64_t{shared_.options.channel} << 8) | index_;
  s->app = fd;
  s->app_at = app;
  s->remote = remote;
  s->direct = mode == relay_mode::direct;
  const auto& opts = shared_.options;
  s->deadline = relay_clock::now() + opts.proxy.connect_timeout;
  add_news(s->direct ? news_kind::opened_direct : news_kind::opened, *s);
  // TCP_NODELAY: the listener's, which accepted sockets inherit.
  auto* raw = s.get();
  streams_.emplace(s->id, std::move(s));
  deadlines_.emplace_back(raw->deadline, raw->id);
  if (!raw->direct) {
    demand_.note(relay_clock::now());
    if (take_spare(*raw)) {
      if (watch(*raw))
        on_proxy_connected(*raw);
      return;
    }
  }
  std::string why;
  raw->up = start_tcp_connect(raw->direct ? remote : opts.proxy.proxy, why);
  if (raw->up == invalid_socket) {
    // Out of descriptors is this stream's trouble, not the proxy's.
    fail(*raw,
         (raw->direct ? "cannot connect: " : "cannot connect to the proxy: ")
             + why,
         !raw->direct && !out_of_descriptors());
    return;
  }
  watch(*raw);
}

// The stream's sockets into the event set (a spare's is there already,
// re-tagged by take_spare); false if that failed and the stream ended.
bool worker::watch(stream& s) {
  auto tag = reinterpret_cast<uint64_t>(&s);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = tag;
  epoll_event up_ev = ev;
  up_ev.data.u64 = tag | 1;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, s.app, &ev) != 0
      || (!s.from_spare
          && ::epoll_ctl(epoll_, EPOLL_CTL_ADD, s.up, &up_ev) != 0)) {
    fail(s, "the relay's event queue: " + errno_text(errno), false);
    return false;
  }
  return true;
}

void worker::on_event(stream& s, bool up_side, uint32_t events) {
  if (s.step == phase::connecting) {
    if (up_side && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0)
      on_connected(s, events);
    return;
  }
  if (s.step == phase::naming) {
    if (!up_side)
      try_name(s); // more of the application's first bytes, or its end
    else if ((events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
      if (s.from_spare)
        return reconnect(s); // the proxy gave up the spare meanwhile
      fail(s, "the proxy closed the connection", true);
    }
    return;
  }
  if (s.step == phase::handshake) {
    if (up_side)
      on_handshake(s, events);
    return;
  }
  bool readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  bool writable = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
  // Readable: that side's bytes go to the other; writable: the other
  // side's waiting bytes can go on.
  auto& from_here = up_side ? s.to_app : s.to_up;
  auto& to_here = up_side ? s.to_up : s.to_app;
  int here = up_side ? s.up : s.app;
  int there = up_side ? s.app : s.up;
  if (readable && !pump(s, from_here, here, there))
    return;
  // Writable matters only to bytes waiting for room: epoll reports it with
  // every readable event, and an empty pipe's source has its own events.
  if (writable && to_here.pipe.held > 0 && !pump(s, to_here, there, here))
    return;
  after_pump(s);
}

void worker::start_relaying(stream& s, bool up_drained) {
  s.step = phase::relaying;
  if (!pump(s, s.to_up, s.app, s.up))
    return;
  // Read to the last byte just now: what comes next brings its own event.
  if ((!up_drained || s.to_app.pipe.held > 0)
      && !pump(s, s.to_app, s.up, s.app))
    return;
  after_pump(s);
}

bool worker::take_pipe(pipe_buffer& p) {
  if (p.r >= 0)
    return true;
  if (!spare_.empty()) {
    p = spare_.back();
    spare_.pop_back();
    return true;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    return false;
  ::fcntl(fds[1], F_SETPIPE_SZ, pipe_capacity); // the default when refused
  p = {fds[0], fds[1], 0};
  return true;
}

void worker::give_back(pipe_buffer& p) {
  if (p.r < 0)
    return;
  if (p.held == 0 && spare_.size() < spare_pipes) {
    spare_.push_back(p);
  } else {
    ::close(p.r);
    ::close(p.w);
  }
  p = {};
}

bool worker::pump(stream& s, direction& d, int from, int to) {
  for (;;) {
    if (d.pipe.held > 0) {
      auto n = ::splice(d.pipe.r, nullptr, to, nullptr, d.pipe.held,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.pipe.held -= static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return true;   // the destination is full: its EPOLLOUT goes on
      finish(s, true); // the destination is gone
      return false;
    }
    if (d.read_done) {
      give_back(d.pipe);
      if (!d.write_done) {
        d.write_done = true;
        // The FIN passed on: a half-close; unless the other way is over
        // too, and the close that ends the stream sends it.
        auto& other = &d == &s.to_up ? s.to_app : s.to_up;
        if (!other.write_done)
          ::shutdown(to, SHUT_WR);
      }
      return true;
    }
    if (!take_pipe(d.pipe)) {
      fail(s, "cannot open a pipe: " + errno_text(errno), false);
      return false;
    }
    auto n = ::splice(from, nullptr, d.pipe.w, nullptr, pipe_capacity,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d.pipe.held += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      d.read_done = true;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) {
      give_back(d.pipe); // empty: an idle stream holds no pipe
      return true;
    }
    finish(s, true); // the source was reset
    return false;
  }
}

void worker::after_pump(stream& s) {
  if (s.to_up.write_done && s.to_app.write_done)
    finish(s, false);
}

void worker::finish(stream& s, bool reset) {
  if (s.dead)
    return;
  s.dead = true;
  if (reset) {
    close_with_reset(s.app);
    close_with_reset(s.up);
  } else {
    ::close(s.app);
    if (s.up >= 0)
      ::close(s.up);
  }
  for (auto* d : {&s.to_up, &s.to_app})
    give_back(d->pipe);
  add_news(news_kind::ended, s);
  auto it = streams_.find(s.id);
  if (it != streams_.end()) {
    ended_.push_back(std::move(it->second));
    streams_.erase(it);
  }
}

void worker::fail(stream& s, const std::string& why, bool proxy_fault) {
  if (proxy_fault)
    (*shared_.events).proxy_failed(why);
  finish(s, true);
}

void worker::check_deadlines(relay_clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    auto id = deadlines_.front().second;
    deadlines_.pop_front();
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->step == phase::relaying)
      continue;
    auto& s = *it->second;
    auto ms = std::to_string(shared_.options.proxy.connect_timeout.count());
    fail(s,
         s.direct ? "the destination did not answer within " + ms + " ms"
                  : "the proxy did not answer within " + ms + " ms",
         !s.direct);
  }
}

void worker::report_progress() {
  for (auto& [id, s] : streams_) {
    if (s->to_app.bytes == s->reported_in && s->to_up.bytes == s->reported_out)
      continue;
    s->reported_in = s->to_app.bytes;
    s->reported_out = s->to_up.bytes;
    add_news(news_kind::progress, *s);
  }
}

} // namespace drover::platform::linux_port
