#include "actors/udp_association.hpp"

#include <deque>
#include <memory>
#include <vector>

#include <caf/io/network/ip_endpoint.hpp>
#include <caf/io/system_messages.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/sockets.hpp"
#include "net/socks5.hpp"
#include "net/socks5_handshake.hpp"

namespace drover {

namespace {

namespace socks5 = net::socks5;
using caf::io::connection_closed_msg;
using caf::io::connection_handle;
using caf::io::datagram_handle;
using caf::io::new_data_msg;
using caf::io::new_datagram_msg;
using caf::io::receive_policy;

// Datagrams waiting for the association; past this they are dropped (voice
// would be stale anyway).
constexpr size_t max_queued = 256;

enum class phase { handshake, ready };

struct queued {
  net::endpoint dst;
  std::vector<uint8_t> payload;
};

struct association_state {
  net::endpoint app;
  upstream_settings upstream;
  platform::packet_injector* injector = nullptr; // lent
  flow_manager_actor fm;
  std::string name;
  std::shared_ptr<spdlog::logger> log;
  uint64_t generation = 0; // which control connection timeouts belong to
  connection_handle ctl;   // the control connection (RFC 1928 §7)
  net::ipv4_address local; // its local address: the relay socket's too
  bool connected = false;
  phase step = phase::handshake;
  // The SOCKS5 exchange on the current control connection.
  std::unique_ptr<socks5::client_handshake> exchange;
  std::vector<uint8_t> handshake; // bytes from the proxy not yet parsed
  datagram_handle relay;
  std::deque<queued> waiting;
  std::vector<uint8_t> packet; // reused to build replies
  uint64_t sent = 0, received = 0, dropped = 0;
  uint16_t ip_id = 1;
};

using state_ptr = std::shared_ptr<association_state>;

void write(caf::io::broker* self, connection_handle to, const uint8_t* data,
           size_t n) {
  self->write(to, n, data);
  self->flush(to);
}

void send_datagram(caf::io::broker* self, const state_ptr& st,
                   net::endpoint dst, const uint8_t* payload, size_t n) {
  auto& buf = self->wr_buf(st->relay);
  auto header = socks5::address::from_ipv4(dst.ip, dst.port);
  auto at = buf.size();
  buf.resize(at + socks5::udp_header_size(header) + n);
  auto* out = reinterpret_cast<uint8_t*>(buf.data()) + at;
  auto h = socks5::write_udp_header(out, buf.size() - at, header);
  std::copy(payload, payload + n, out + h);
  self->flush(st->relay);
  st->sent++;
}

// The control connection is gone or never came: start over, after a pause
// so a dead proxy is not hammered.
// `proxy_fault`: false when the trouble is this process's own (no
// descriptor left), which the supervisor must not take for a dead proxy.
void reassociate(caf::io::broker* self, const state_ptr& st,
                 const std::string& why, bool proxy_fault = true) {
  st->log->warn("{}: {}; associating again", st->name, why);
  if (proxy_fault && st->upstream.health) // the supervisor checks the proxy
    caf::anon_send(st->upstream.health, atom::check_v, why,
                   st->upstream.proxy_index);
  trace::record(st->name, "reassociate", {{"reason", why}});
  if (st->connected) {
    self->close(st->ctl);
  }
  if (st->step == phase::ready)
    self->close(st->relay);
  st->connected = false;
  st->step = phase::handshake;
  st->exchange.reset();
  st->handshake.clear();
  st->generation++;
  self->delayed_send(self, std::chrono::seconds{1}, atom::internal_v,
                     st->generation, true);
}

void on_ready(caf::io::broker* self, const state_ptr& st,
              const socks5::address& bound) {
  auto proxy_ip = st->upstream.proxy.ip;
  auto relay = socks5::relay_address(bound, proxy_ip);
  if (relay.type != socks5::address_type::ipv4)
    return reassociate(self, st, "the proxy named a relay that is not IPv4");
  // Connected to the relay: the system drops datagrams from anyone else
  // (a host on the LAN forging a DNS or STUN reply into the application),
  // and CAF sees one sender only.
  std::string error;
  net::endpoint at{relay.ipv4, relay.port};
  auto fd = platform::connected_udp(st->local, at, error);
  if (fd == platform::invalid_socket)
    return reassociate(self, st, "cannot reach the UDP relay: " + error,
                       !platform::out_of_descriptors());
  caf::io::network::ip_endpoint ep;
  // Its storage is a sockaddr_storage: 128 bytes on every system.
  *ep.length() = platform::write_socket_address(at, ep.address(), 128);
  st->relay = self->add_datagram_servant_for_endpoint(
      static_cast<caf::io::network::native_socket>(fd), ep);
  st->step = phase::ready;
  st->log->debug("{}: UDP relay {}:{}", st->name, net::to_string(relay.ipv4),
                 relay.port);
  trace::record(st->name, "associated",
                {{"relay", net::to_string(relay.ipv4)}, {"port", relay.port}});
  for (auto& q : st->waiting)
    send_datagram(self, st, q.dst, q.payload.data(), q.payload.size());
  st->waiting.clear();
}

// Advances the SOCKS5 exchange with what the proxy sent so far.
void on_control_data(caf::io::broker* self, const state_ptr& st) {
  if (!st->exchange)
    return; // a late read after the exchange ended (done, failed, closed)
  using action = socks5::client_handshake::step::action;
  auto step = socks5::drive(*st->exchange, st->handshake,
                            [&](const uint8_t* bytes, size_t size) {
                              write(self, st->ctl, bytes, size);
                            });
  if (step.what == action::done) {
    auto bound = st->exchange->bound();
    st->exchange.reset();
    st->handshake.clear(); // nothing more is expected on this connection
    on_ready(self, st, bound);
  } else if (step.what != action::need_more) {
    reassociate(self, st,
                socks5::message(step.what == action::failed
                                    ? step.err
                                    : socks5::error::out_of_order));
  }
}

void connect_control(caf::io::broker* self, const state_ptr& st) {
  std::string error;
  auto fd = platform::start_tcp_connect(st->upstream.proxy, error);
  if (fd == platform::invalid_socket)
    return reassociate(self, st, "cannot connect to the proxy: " + error,
                       !platform::out_of_descriptors());
  // An idle association sends nothing on its control connection for as long
  // as a call is quiet; keepalive probes keep NAT and proxy state alive and
  // find a dead proxy within a minute and a half.
  platform::enable_keepalive(fd, std::chrono::seconds{30},
                             std::chrono::seconds{10}, 6);
  // The relay socket uses the same local address (the way to the proxy).
  st->local = net::ipv4_address{0};
  if (auto here = platform::local_of(fd))
    st->local = here->ip;
  st->ctl = self->add_scribe(fd);
  st->connected = true;
  // DST 0.0.0.0:0: the address the datagrams will come from is not known
  // in advance (RFC 1928 allows zeros). The login and password stay in
  // st->upstream as long as the exchange.
  st->exchange = std::make_unique<socks5::client_handshake>(
      st->upstream.auth, st->upstream.login, st->upstream.password,
      socks5::command::udp_associate,
      socks5::address::from_ipv4(net::ipv4_address{0}, 0));
  auto greeting = st->exchange->start();
  write(self, st->ctl, greeting.bytes, greeting.size);
  self->configure_read(st->ctl, receive_policy::at_most(1024));
  self->delayed_send(self, st->upstream.udp_associate_timeout, atom::internal_v,
                     st->generation, false);
}

// A datagram from the relay: strip the SOCKS header and hand the payload to
// the application as if it came from the remote itself.
void on_relay_datagram(const state_ptr& st, const new_datagram_msg& m) {
  socks5::udp_datagram d;
  auto* data = reinterpret_cast<const uint8_t*>(m.buf.data());
  auto e = socks5::parse_udp_datagram(data, m.buf.size(), d);
  if (e != socks5::error::none || d.from.type != socks5::address_type::ipv4) {
    st->dropped++;
    return;
  }
  auto n = m.buf.size() - d.payload_offset;
  st->packet.resize(28 + n);
  auto len = net::build_ipv4_udp(st->packet.data(), st->packet.size(),
                                 {d.from.ipv4, d.from.port}, st->app,
                                 data + d.payload_offset, n, st->ip_id++);
  if (len == 0 || st->injector->inject(st->packet.data(), len)) {
    st->dropped++;
    return;
  }
  st->received++;
}

} // namespace

caf::behavior udp_association(caf::io::broker* self, net::endpoint app,
                              upstream_settings upstream,
                              platform::packet_injector* injector,
                              flow_manager_actor fm) {
  report_panics(self);
  auto st = std::make_shared<association_state>();
  st->app = app;
  st->upstream = std::move(upstream);
  st->injector = injector;
  st->fm = std::move(fm);
  st->name = "udp-association-" + net::to_string(app.ip) + ":"
             + std::to_string(app.port);
  st->log = log::get("udp-association");
  st->packet.reserve(2048);
  connect_control(self, st);
  return {
      [=](udp_batch& batch) {
        for (auto& item : batch.items) {
          auto* payload = batch.bytes.data() + item.offset;
          if (st->step == phase::ready) {
            send_datagram(self, st, item.dst, payload, item.length);
          } else if (st->waiting.size() < max_queued) {
            st->waiting.push_back({item.dst, {payload, payload + item.length}});
          } else {
            st->dropped++;
          }
        }
      },
      [=](const new_data_msg& m) {
        if (m.handle != st->ctl || st->step == phase::ready)
          return; // nothing more is expected on the control connection
        st->handshake.insert(st->handshake.end(), m.buf.begin(), m.buf.end());
        on_control_data(self, st);
      },
      [=](const new_datagram_msg& m) { on_relay_datagram(st, m); },
      [=](const caf::io::datagram_sent_msg&) {},
      [=](const connection_closed_msg& m) {
        // The association lives as long as its control connection (RFC 1928).
        if (st->connected && m.handle == st->ctl)
          reassociate(self, st, "the proxy closed the association");
      },
      [=](const caf::io::datagram_servant_closed_msg&) {
        if (st->step == phase::ready)
          reassociate(self, st, "the UDP relay socket closed");
      },
      [=](atom::internal, uint64_t generation, bool retry) {
        if (generation != st->generation)
          return; // about an older control connection
        if (retry)
          connect_control(self, st);
        else if (st->step != phase::ready)
          reassociate(self, st,
                      "the proxy did not answer UDP ASSOCIATE in time");
      },
      [=](atom::stop) {
        trace::record(st->name, "closed",
                      {{"sent", st->sent},
                       {"received", st->received},
                       {"dropped", st->dropped}});
        self->close_all();
        self->quit();
      },
  };
}

} // namespace drover
