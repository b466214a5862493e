#include "actors/platform/linux/datagram_worker.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "actors/platform/linux/system.hpp"
#include "actors/platform/sockets.hpp"
#include "net/packet.hpp"
#include "net/socks5.hpp"

namespace drover::platform::linux_port {

namespace {

namespace socks5 = net::socks5;

// Datagrams waiting for an association to be ready; past this they are
// dropped (voice would be stale anyway). The targets choose what they send:
// bounded per association and in all, in bytes too.
constexpr size_t max_waiting = 256;
constexpr size_t max_waiting_bytes = 256 << 10;
constexpr size_t max_waiting_total = 8 << 20;
// Flows a reply from a new remote may open for one application socket:
// whoever reaches the proxy's relay port chooses those remotes.
constexpr size_t max_reply_flows = 1024;
// Receive batches per wake-up on one socket before the others get a turn.
constexpr int rounds = 8;
constexpr int max_events = 64;

// epoll data: the intake and the wake-up below any heap address, else an
// association's address with the lowest bit set for its relay socket.
constexpr uint64_t intake_tag = 2;
constexpr uint64_t wake_tag = 4;

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}

// The IPv4 and UDP headers of a reply the application's stack receives as
// if the remote had sent it, with Drover's identification (a "port
// unreachable" answering it is known by it). The kernel fills the IP
// checksum and the total length of a raw packet; the UDP checksum is left out
// (0: "none", valid in IPv4), as the datagram never leaves this machine.
void write_reply_header(uint8_t* h, net::endpoint from, net::endpoint to,
                        size_t payload) {
  std::memset(h, 0, 28);
  h[0] = 0x45;
  put16(h + 2, static_cast<uint32_t>(28 + payload));
  put16(h + 4, net::delivered_ip_id);
  h[8] = 64;
  h[9] = 17;
  put32(h + 12, from.ip.value);
  put32(h + 16, to.ip.value);
  put16(h + 20, from.port);
  put16(h + 22, to.port);
  put16(h + 24, static_cast<uint32_t>(8 + payload));
}

sockaddr_in address_of(net::endpoint e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(e.ip.value);
  a.sin_port = htons(e.port);
  return a;
}

} // namespace

datagram_worker::~datagram_worker() {
  for (auto& [key, a] : associations_)
    for (int fd : {a->control, a->relay})
      if (fd >= 0)
        ::close(fd);
  for (int fd : {intake_, raw_, raw_direct_, epoll_})
    if (fd >= 0)
      ::close(fd);
}

bool datagram_worker::open(int intake, std::string& error) {
  intake_ = intake;
  sockaddr_in own{};
  socklen_t len = sizeof own;
  ::getsockname(intake_, reinterpret_cast<sockaddr*>(&own), &len);
  own_ = endpoint_of(own);
  raw_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  uint32_t mark = injected_mark; // untracked, never captured (raw table)
  if (raw_ < 0
      || ::setsockopt(raw_, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    error = "the UDP relay's raw socket: " + errno_text(errno);
    return false;
  }
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  bool ok = epoll_ >= 0 && mailbox_.open()
            && ::epoll_ctl(epoll_, EPOLL_CTL_ADD, mailbox_.fd(), &ev) == 0;
  ev.data.u64 = intake_tag;
  if (!ok || ::epoll_ctl(epoll_, EPOLL_CTL_ADD, intake_, &ev) != 0) {
    error = "the UDP relay's event queue: " + errno_text(errno);
    return false;
  }
  buffers_.resize(batch * slot_size);
  direct_.resize(slot_size + 28);
  return true;
}

int datagram_worker::next_timeout(relay_clock::time_point now) const {
  auto until = news_.due(next_progress_);
  if (!deadlines_.empty())
    until = std::min(until, deadlines_.begin()->first);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now)
                .count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
}

void datagram_worker::run() {
  epoll_event events[max_events];
  next_progress_ = relay_clock::now() + shared_.options.progress_interval;
  for (;;) {
    int n = ::epoll_wait(epoll_, events, max_events,
                         next_timeout(relay_clock::now()));
    for (int i = 0; i < n; ++i) {
      auto tag = events[i].data.u64;
      if (tag == intake_tag) {
        on_intake();
      } else if (tag == wake_tag) {
        if (on_wake())
          return;
      } else {
        auto* a = reinterpret_cast<association*>(tag & ~uint64_t{1});
        if (a->dead)
          continue;
        if ((tag & 1) != 0)
          on_replies(*a);
        else
          on_control(*a, events[i].events);
      }
    }
    auto now = relay_clock::now();
    check_deadlines(now);
    if (now >= next_progress_) {
      report_progress();
      next_progress_ = now + shared_.options.progress_interval;
    }
    news_.flush(now, *shared_.events);
    ended_.clear();
  }
}

bool datagram_worker::on_wake() {
  auto posted = mailbox_.take();
  if (posted.stop)
    return true;
  if (posted.all) {
    std::vector<association*> open;
    for (auto& [key, a] : associations_)
      open.push_back(a.get());
    for (auto* a : open)
      end(*a);
    flows_.clear();
    by_id_.clear();
    return false;
  }
  for (auto id : posted.ids)
    drop_flow(id);
  return false;
}

void datagram_worker::prepare_receive(bool with_control) {
  for (size_t i = 0; i < batch; ++i) {
    in_parts_[i] = {buffers_.data() + i * slot_size, slot_size};
    auto& h = in_[i].msg_hdr;
    h = {};
    h.msg_name = &in_from_[i];
    h.msg_namelen = sizeof in_from_[i];
    h.msg_iov = &in_parts_[i];
    h.msg_iovlen = 1;
    if (with_control) {
      h.msg_control = in_control_[i].data();
      h.msg_controllen = in_control_[i].size();
    }
  }
}

void datagram_worker::on_intake() {
  for (int round = 0; round < rounds; ++round) {
    prepare_receive(true);
    int n = ::recvmmsg(intake_, in_.data(), batch, MSG_DONTWAIT, nullptr);
    if (n <= 0)
      return;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      auto& h = in_[i].msg_hdr;
      const sockaddr_in* original = nullptr;
      for (auto* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR)
          original = reinterpret_cast<const sockaddr_in*>(CMSG_DATA(c));
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          // The socket's count of datagrams the kernel dropped for want of
          // room, so far.
          uint32_t overflowed = 0;
          std::memcpy(&overflowed, CMSG_DATA(c), sizeof overflowed);
          dropped_ += overflowed - intake_overflowed_;
          intake_overflowed_ = overflowed;
        }
      }
      if (original == nullptr || (h.msg_flags & MSG_TRUNC) != 0) {
        dropped_++;
        continue;
      }
      on_datagram(endpoint_of(in_from_[i]), endpoint_of(*original),
                  static_cast<uint8_t*>(in_parts_[i].iov_base), in_[i].msg_len);
    }
    send_batches(); // before the buffers are received into again
    if (static_cast<size_t>(n) < batch)
      return;
  }
}

void datagram_worker::on_datagram(net::endpoint app, net::endpoint remote,
                                  uint8_t* payload, size_t size) {
  // TPROXY brings only targets' datagrams to other hosts; one sent to the
  // intake itself is a local program looking for an open relay: never.
  auto mode = shared_.udp_mode.load(std::memory_order_relaxed);
  if (remote == own_ || (remote.ip.value >> 24) == 127
      || remote.ip.value == 0) {
    dropped_++;
    return;
  }
  if (mode == relay_mode::refuse) {
    // Refused with an error only while TCP is proxied (a TCP-only proxy):
    // as the flow-manager does, and why.
    if (shared_.mode.load(std::memory_order_relaxed) == relay_mode::proxy)
      refuse(app, remote, payload, size);
    dropped_++;
    return;
  }
  if (mode == relay_mode::direct)
    return send_direct(app, remote, payload, size);
  auto* a = association_for(app);
  auto* f = a != nullptr ? flow(app, remote) : nullptr;
  if (f == nullptr) {
    dropped_++;
    return;
  }
  f->out += size;
  if (a->step != association_step::ready) {
    if (a->waiting.size() < max_waiting
        && a->waiting_bytes + size <= max_waiting_bytes
        && waiting_total_ + size <= max_waiting_total) {
      a->waiting.emplace_back(remote,
                              std::vector<uint8_t>{payload, payload + size});
      a->waiting_bytes += size;
      waiting_total_ += size;
    } else {
      dropped_++;
    }
    return;
  }
  auto& o = out_[out_count_];
  o.to = a;
  auto h = socks5::write_udp_header(
      o.header, sizeof o.header,
      socks5::address::from_ipv4(remote.ip, remote.port));
  o.parts[0] = {o.header, h};
  o.parts[1] = {payload, size};
  auto& m = out_msgs_[out_count_].msg_hdr;
  m = {};
  m.msg_iov = o.parts;
  m.msg_iovlen = 2;
  if (++out_count_ == batch)
    send_batches();
}

void datagram_worker::send_batches() {
  // Consecutive datagrams for one socket go in one system call, in order.
  size_t i = 0;
  while (i < out_count_) {
    auto* to = out_[i].to;
    size_t j = i + 1;
    while (j < out_count_ && out_[j].to == to)
      ++j;
    int fd = to != nullptr ? to->relay : raw_;
    int sent = fd >= 0 ? ::sendmmsg(fd, &out_msgs_[i],
                                    static_cast<unsigned>(j - i), MSG_DONTWAIT)
                       : -1;
    // What the socket did not take is lost, as on any full UDP path.
    dropped_ += (j - i) - static_cast<size_t>(std::max(sent, 0));
    i = j;
  }
  out_count_ = 0;
}

void datagram_worker::send_direct(net::endpoint app, net::endpoint remote,
                                  const uint8_t* payload, size_t size) {
  // `when_not_proxying = "direct"`: out as the application sent it.
  auto n = net::build_ipv4_udp(direct_.data(), direct_.size(), app, remote,
                               payload, size, 0);
  auto to = address_of(remote);
  // A raw socket of its own, without the injected mark: these datagrams
  // are tracked like the application's own, so a stateful firewall on the
  // machine lets their answers in.
  if (raw_direct_ < 0)
    raw_direct_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (n == 0
      || ::sendto(raw_direct_, direct_.data(), n, MSG_DONTWAIT,
                  reinterpret_cast<sockaddr*>(&to), sizeof to)
             != static_cast<ssize_t>(n))
    dropped_++;
}

void datagram_worker::refuse(net::endpoint app, net::endpoint remote,
                             const uint8_t* payload, size_t size) {
  // The proxy carries TCP and cannot carry UDP: refused at once from the
  // remote's address, so a program with a connected socket (a resolver,
  // QUIC) learns now instead of waiting out its own timeouts. The quote is the
  // datagram rebuilt from what TPROXY handed over (its addresses, ports and
  // bytes; the identification and checksums are Drover's). At most
  // `refusals_per_second`: a program that keeps sending is only dropped.
  if (!refusals_.allow(relay_clock::now()))
    return;
  auto n = net::build_ipv4_udp(direct_.data(), direct_.size(), app, remote,
                               payload, size, 0);
  net::packet_info info;
  if (n == 0 || net::parse(direct_.data(), n, info) != net::parse_error::none)
    return;
  uint8_t answer[576];
  auto length = net::build_icmp_port_unreachable(answer, sizeof answer,
                                                 direct_.data(), info);
  auto to = address_of(app);
  if (length > 0)
    (void)::sendto(raw_, answer, length, MSG_DONTWAIT,
                   reinterpret_cast<sockaddr*>(&to), sizeof to);
}

void datagram_worker::on_replies(association& a) {
  for (int round = 0; round < rounds && !a.dead; ++round) {
    prepare_receive(false);
    int n = ::recvmmsg(a.relay, in_.data(), batch, MSG_DONTWAIT, nullptr);
    if (n < 0 && errno == ECONNREFUSED)
      return fail(a, "the proxy's UDP relay refused a datagram", true);
    if (n <= 0)
      return;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      auto* data = static_cast<uint8_t*>(in_parts_[i].iov_base);
      socks5::udp_datagram d;
      if ((in_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0
          || socks5::parse_udp_datagram(data, in_[i].msg_len, d)
                 != socks5::error::none
          || d.from.type != socks5::address_type::ipv4) {
        dropped_++;
        continue;
      }
      net::endpoint from{d.from.ipv4, d.from.port};
      size_t size = in_[i].msg_len - d.payload_offset;
      // A reply from a remote the application never wrote to (a peer
      // answering a STUN request, say) is a flow of its own, up to a bound.
      auto* f = a.flows < max_reply_flows ? flow(a.app, from)
                                          : known_flow(a.app, from);
      if (f != nullptr)
        f->in += size;
      auto& o = out_[out_count_];
      o.to = nullptr;
      write_reply_header(o.header, from, a.app, size);
      o.parts[0] = {o.header, 28};
      o.parts[1] = {data + d.payload_offset, size};
      o.address = address_of(a.app);
      auto& m = out_msgs_[out_count_].msg_hdr;
      m = {};
      m.msg_name = &o.address;
      m.msg_namelen = sizeof o.address;
      m.msg_iov = o.parts;
      m.msg_iovlen = 2;
      out_count_++;
    }
    send_batches();
    if (static_cast<size_t>(n) < batch)
      return;
  }
}

association* datagram_worker::association_for(net::endpoint app) {
  auto key = packed(app);
  auto it = associations_.find(key);
  if (it != associations_.end())
    return it->second.get();
  auto a = std::make_unique<association>();
  a->app = app;
  auto* raw = a.get();
  associations_.emplace(key, std::move(a));
  connect(*raw);
  return raw;
}

datagram_flow* datagram_worker::known_flow(net::endpoint app,
                                           net::endpoint remote) {
  auto of_app = flows_.find(packed(app));
  if (of_app == flows_.end())
    return nullptr;
  auto it = of_app->second.find(packed(remote));
  return it != of_app->second.end() ? &it->second : nullptr;
}

datagram_flow* datagram_worker::flow(net::endpoint app, net::endpoint remote) {
  auto a = associations_.find(packed(app));
  if (a == associations_.end())
    return nullptr;
  auto& of_app = flows_[packed(app)];
  auto it = of_app.find(packed(remote));
  if (it != of_app.end())
    return &it->second;
  auto& f = of_app[packed(remote)];
  f.id = (next_seq_++ << 12) | (uint64_t{shared_.options.channel} << 8)
         | datagram_id_tag;
  f.app = app;
  f.remote = remote;
  by_id_[f.id] = {packed(app), packed(remote)};
  a->second->flows++;
  add_news(news_kind::opened, f);
  return &f;
}

void datagram_worker::drop_flow(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end())
    return;
  auto [app, remote] = it->second;
  by_id_.erase(it);
  auto of_app = flows_.find(app);
  if (of_app != flows_.end()) {
    of_app->second.erase(remote);
    if (of_app->second.empty())
      flows_.erase(of_app);
  }
  auto a = associations_.find(app);
  if (a != associations_.end() && --a->second->flows == 0)
    end(*a->second); // its last flow left the table: the socket is done
}

void datagram_worker::end(association& a) {
  for (int* fd : {&a.control, &a.relay})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  a.dead = true;
  release_waiting(a);
  auto it = associations_.find(packed(a.app));
  if (it != associations_.end()) {
    ended_.push_back(std::move(it->second));
    associations_.erase(it);
  }
}

void datagram_worker::release_waiting(association& a) {
  waiting_total_ -= a.waiting_bytes;
  a.waiting_bytes = 0;
  a.waiting.clear();
}

void datagram_worker::watch(int fd, association* a, bool relay_side,
                            uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = reinterpret_cast<uint64_t>(a) | (relay_side ? 1u : 0u);
  ::epoll_ctl(epoll_, op, fd, &ev);
}

void datagram_worker::add_news(news_kind what, const datagram_flow& f) {
  net::stream_news n;
  n.what = what;
  n.protocol = net::stream_news::udp;
  n.id = f.id;
  n.app = f.app;
  n.remote = f.remote;
  n.in = f.in;
  n.out = f.out;
  news_.add(n);
}

void datagram_worker::report_progress() {
  for (auto& [app, of_app] : flows_)
    for (auto& [remote, f] : of_app) {
      if (f.in == f.reported_in && f.out == f.reported_out)
        continue;
      f.reported_in = f.in;
      f.reported_out = f.out;
      add_news(news_kind::progress, f);
    }
  if (dropped_ != reported_dropped_) {
    net::stream_news n;
    n.what = news_kind::dropped;
    n.protocol = net::stream_news::udp;
    n.out = dropped_ - reported_dropped_;
    reported_dropped_ = dropped_;
    news_.add(n);
  }
}

} // namespace drover::platform::linux_port
