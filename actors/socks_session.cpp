#include "actors/socks_session.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <caf/io/system_messages.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/sockets.hpp"
#include "net/host_name.hpp"
#include "net/http_connect.hpp"
#include "net/socks5.hpp"
#include "net/socks5_handshake.hpp"

namespace drover {

namespace {

using caf::io::connection_closed_msg;
using caf::io::connection_handle;
using caf::io::data_transferred_msg;
using caf::io::new_data_msg;
using caf::io::receive_policy;
namespace socks5 = net::socks5;

// Back-pressure: stop reading a side while more than `high` bytes wait to
// be written to the other; resume below `low`.
constexpr size_t high_watermark = 1u << 20;
constexpr size_t low_watermark = 256u << 10;
// Reads start small, so an idle flow (most chat connections) costs little
// memory, and grow to the large chunk once a read fills the small one.
constexpr size_t first_read_chunk = 4u << 10;
constexpr size_t read_chunk = 64u << 10;

// naming: the application's first bytes may name its server (TLS SNI,
// HTTP Host); the proxy is then asked for the name (net/host_name.hpp).
enum class phase { naming, handshake, pumping, done };

struct session_state {
  flow_lookup flow;
  upstream_settings upstream;
  flow_manager_actor fm;
  std::shared_ptr<spdlog::logger> log;
  std::string name;
  // Each socket has a reader scribe and a writer scribe (on a dup of the
  // descriptor), so that one direction can end while the other goes on.
  connection_handle app_in, app_out, up_in, up_out;
  phase step = phase::handshake;
  // The SOCKS5 exchange, until it is done (then freed).
  std::unique_ptr<socks5::client_handshake> exchange;
  // A spare connection's: greeted already (its options keep the login the
  // exchange refers to).
  bool from_spare = false;
  std::shared_ptr<const platform::spare_pool_options> spare_options;
  std::string host;               // what the request names ("": the address)
  std::vector<uint8_t> handshake; // bytes from the proxy not yet parsed
  std::vector<uint8_t> early;     // the application's, before the reply
  bool app_eof = false, up_eof = false;
  bool app_paused = false, up_paused = false;
  bool app_grown = false, up_grown = false; // reading in large chunks
  uint64_t bytes_in = 0, bytes_out = 0;
};

using state_ptr = std::shared_ptr<session_state>;

void report(const state_ptr& st) {
  caf::anon_send(st->fm, atom::update_v, st->flow, st->bytes_in, st->bytes_out);
}

void finish(caf::io::broker* self, const state_ptr& st) {
  if (st->step == phase::done)
    return;
  st->step = phase::done;
  report(st);
  caf::anon_send(st->fm, atom::closed_v, st->flow);
  trace::record(st->name, "closed",
                {{"in", st->bytes_in}, {"out", st->bytes_out}});
  self->close_all();
  self->quit();
}

// The proxy failed this connection. The application's connection is
// closed; whether the engine must react is the supervisor's business, not
// this session's (issue #5 routes proxy failures there).
void fail(caf::io::broker* self, const state_ptr& st, const std::string& why) {
  st->log->warn("{}: {}", st->name, why);
  trace::record(st->name, "failed", {{"reason", why}});
  finish(self, st);
}

// The proxy itself failed (not the destination): the supervisor checks the
// proxy and, if it is down, reconnects the engine.
void proxy_failed(caf::io::broker* self, const state_ptr& st,
                  const std::string& why) {
  if (st->upstream.health)
    caf::anon_send(st->upstream.health, atom::check_v, why,
                   st->upstream.proxy_index);
  fail(self, st, why);
}

void write(caf::io::broker* self, connection_handle to, const uint8_t* data,
           size_t n) {
  self->write(to, n, data);
  self->flush(to);
}

// The proxy connected: relay both ways. What st->handshake still holds
// came after the reply, from the destination: the application's.
void start_pumping(caf::io::broker* self, const state_ptr& st) {
  st->step = phase::pumping;
  st->log->debug("{}: connected through the proxy", st->name);
  trace::record(st->name, "connected", {});
  self->ack_writes(st->app_out, true);
  self->ack_writes(st->up_out, true);
  if (!st->early.empty()) {
    st->bytes_out += st->early.size();
    write(self, st->up_out, st->early.data(), st->early.size());
    st->early.clear();
    st->early.shrink_to_fit();
  }
  if (!st->handshake.empty()) {
    st->bytes_in += st->handshake.size();
    write(self, st->app_out, st->handshake.data(), st->handshake.size());
  }
  st->handshake.clear();
  st->handshake.shrink_to_fit();
  st->exchange.reset();
  self->configure_read(st->app_in, receive_policy::at_most(first_read_chunk));
  self->trigger(st->app_in); // halted once its name was read
  self->configure_read(st->up_in, receive_policy::at_most(first_read_chunk));
}

// The greeting (and CONNECT by `host`, or by the address when empty). The
// application's further bytes wait in its socket until the reply.
void begin_exchange(caf::io::broker* self, const state_ptr& st,
                    const std::string& host) {
  st->step = phase::handshake;
  st->host = host;
  self->halt(st->app_in);
  auto to
      = socks5::address::from_ipv4(st->flow.remote.ip, st->flow.remote.port);
  if (!host.empty())
    socks5::address::from_domain(host, st->flow.remote.port, to);
  // Together only when the check saw this proxy read them so: microsocks
  // reads one message per read and would lose the request.
  bool pipelined
      = st->upstream.pipelined && !st->upstream.auth && !st->upstream.http;
  trace::record(
      st->name, "connect",
      {{"to", host.empty() ? net::to_string(st->flow.remote.ip) : host},
       {"port", st->flow.remote.port},
       {"pipelined", pipelined && !st->from_spare},
       {"spare", st->from_spare}});
  if (st->from_spare) { // greeted already: the request alone
    auto request = st->exchange->request(socks5::command::connect, to);
    write(self, st->up_out, request.bytes, request.size);
    return;
  }
  if (st->upstream.http) {
    // One request; the answer comes as the SOCKS5 reply would.
    auto text = net::http_connect::request(
        host.empty() ? net::to_string(st->flow.remote.ip) : host,
        st->flow.remote.port,
        st->upstream.auth ? st->upstream.login : std::string{},
        st->upstream.auth ? st->upstream.password : std::string{});
    write(self, st->up_out, reinterpret_cast<const uint8_t*>(text.data()),
          text.size());
    return;
  }
  // The login and password stay in st->upstream as long as the exchange.
  st->exchange = std::make_unique<socks5::client_handshake>(
      st->upstream.auth, st->upstream.login, st->upstream.password,
      socks5::command::connect, to);
  auto greeting
      = pipelined ? st->exchange->start_pipelined() : st->exchange->start();
  write(self, st->up_out, greeting.bytes, greeting.size);
}

// More of the application's first bytes (or the wait is over: `last`).
void on_first_bytes(caf::io::broker* self, const state_ptr& st, bool last) {
  if (st->step != phase::naming)
    return;
  std::string host;
  auto found
      = net::host_of_first_bytes(st->early.data(), st->early.size(), host);
  if (found == net::first_bytes::need_more && !last)
    return;
  begin_exchange(self, st,
                 found == net::first_bytes::named ? host : std::string{});
}

// Advances the SOCKS5 exchange with what the proxy sent so far.
void on_http_answer(caf::io::broker* self, const state_ptr& st) {
  using net::http_connect::outcome;
  auto a = net::http_connect::read_answer(st->handshake.data(),
                                          st->handshake.size());
  if (a.what == outcome::need_more)
    return;
  if (a.what == outcome::connected) {
    // What followed the answer is the server's.
    st->handshake.erase(st->handshake.begin(),
                        st->handshake.begin()
                            + static_cast<long>(a.header_size));
    return start_pumping(self, st);
  }
  (a.what == outcome::refused ? fail : proxy_failed)(
      self, st, net::http_connect::message(a));
}

void on_handshake_data(caf::io::broker* self, const state_ptr& st) {
  if (st->step == phase::handshake && st->upstream.http)
    return on_http_answer(self, st);
  if (!st->exchange || st->step != phase::handshake)
    return; // a late read after the exchange ended (done, failed, closed)
  using action = socks5::client_handshake::step::action;
  auto step = socks5::drive(*st->exchange, st->handshake,
                            [&](const uint8_t* bytes, size_t size) {
                              write(self, st->up_out, bytes, size);
                            });
  if (step.what == action::done)
    start_pumping(self, st);
  else if (step.what != action::need_more)
    fail(self, st,
         socks5::message(step.what == action::failed
                             ? step.err
                             : socks5::error::out_of_order));
}

// One side's bytes go to the other side's writer; pause the reader while
// the writer is far behind.
void relay(caf::io::broker* self, const state_ptr& st, const new_data_msg& m) {
  bool from_app = m.handle == st->app_in;
  auto to = from_app ? st->up_out : st->app_out;
  self->write(to, m.buf.size(), m.buf.data());
  self->flush(to);
  (from_app ? st->bytes_out : st->bytes_in) += m.buf.size();
  bool& grown = from_app ? st->app_grown : st->up_grown;
  if (!grown && m.buf.size() >= first_read_chunk) {
    grown = true;
    self->configure_read(m.handle, receive_policy::at_most(read_chunk));
  }
}

void on_transferred(caf::io::broker* self, const state_ptr& st,
                    const data_transferred_msg& m) {
  bool to_up = m.handle == st->up_out;
  auto source = to_up ? st->app_in : st->up_in;
  bool& paused = to_up ? st->app_paused : st->up_paused;
  if (!paused && m.remaining > high_watermark) {
    paused = true;
    self->halt(source);
  } else if (paused && m.remaining < low_watermark) {
    paused = false;
    self->trigger(source);
  }
}

// A spare the proxy ended before its request's reply (its idle timeout, a
// restart): the connection goes on a fresh one, unseen by the application
// and not proxy trouble. False when no fresh one can be had.
bool retry_on_a_fresh_connection(caf::io::broker* self, const state_ptr& st) {
  if (!st->from_spare || st->step != phase::handshake)
    return false;
  st->from_spare = false;
  self->close(st->up_in);
  self->close(st->up_out);
  std::string error;
  constexpr auto none = platform::invalid_socket;
  auto up = platform::start_tcp_connect(st->upstream.proxy, error);
  auto up_dup = up == none ? none : platform::duplicate_socket(up);
  if (up_dup == none) {
    platform::close_socket(up);
    return false;
  }
  trace::record(st->name, "spare ended by the proxy", {});
  st->up_in = self->add_scribe(up);
  st->up_out = self->add_scribe(up_dup);
  self->configure_read(st->up_in, receive_policy::at_most(1024));
  st->handshake.clear();
  st->exchange.reset();
  begin_exchange(self, st, st->host);
  return true;
}

void on_closed(caf::io::broker* self, const state_ptr& st,
               const connection_handle& h) {
  if (h == st->app_in) {
    // The application finished sending: pass its FIN on once the rest is
    // written, and keep relaying the other way.
    st->app_eof = true;
    if (st->step != phase::pumping)
      return finish(self, st);
    self->close(st->up_out);
  } else if (h == st->up_in) {
    if (retry_on_a_fresh_connection(self, st))
      return;
    st->up_eof = true;
    if (st->step != phase::pumping)
      return proxy_failed(
          self, st,
          st->exchange
                  && st->exchange->current()
                         == socks5::client_handshake::stage::greeting
              ? "the proxy refused or closed the connection"
              : "the proxy closed the connection during the handshake");
    self->close(st->app_out);
  } else if (h == st->up_out && retry_on_a_fresh_connection(self, st)) {
    return; // the spare was gone as its request was written
  } else if (h == st->app_out || h == st->up_out) {
    // A writer failed: the peer is gone; nothing more can be delivered.
    return finish(self, st);
  }
  if (st->app_eof && st->up_eof)
    finish(self, st);
}

} // namespace

caf::behavior socks_session(caf::io::broker* self, connection_handle app,
                            flow_lookup flow, upstream_settings upstream,
                            flow_manager_actor fm,
                            std::shared_ptr<platform::spare_connection> spare) {
  report_panics(self);
  auto st = std::make_shared<session_state>();
  st->flow = flow;
  st->upstream = std::move(upstream);
  st->fm = std::move(fm);
  st->name = "socks-session-" + std::to_string(flow.id);
  st->log = log::get("socks-session");
  st->app_in = app;
  // Every descriptor is checked before CAF sees it: CAF aborts the process
  // on a bad one, and running out (EMFILE) must cost one flow, not all.
  std::string error;
  constexpr auto none = platform::invalid_socket;
  auto app_dup = platform::duplicate_socket(
      static_cast<platform::socket_handle>(app.id()));
  if (app_dup == none)
    error = platform::last_socket_error();
  auto up = none;
  if (app_dup != none && spare && spare->fd != none && spare->exchange) {
    up = spare->fd;
    spare->fd = none; // the session's now
    st->exchange = std::move(spare->exchange);
    st->spare_options = spare->options;
    st->from_spare = true;
  } else if (app_dup != none) {
    up = platform::start_tcp_connect(st->upstream.proxy, error);
  }
  auto up_dup = up == none ? none : platform::duplicate_socket(up);
  if (up != none && up_dup == none)
    error = platform::last_socket_error();
  if (app_dup == none || up == none || up_dup == none) {
    platform::close_socket(app_dup);
    platform::close_socket(up);
    // Only a failed connect says something about the proxy; a descriptor
    // this process could not get is its own trouble, not a reason to
    // reconnect the engine.
    bool proxy_fault
        = app_dup != none && up == none && !platform::out_of_descriptors();
    (proxy_fault ? proxy_failed
                 : fail)(self, st, "cannot connect to the proxy: " + error);
    return {};
  }
  st->app_out = self->add_scribe(app_dup);
  st->up_in = self->add_scribe(up);
  st->up_out = self->add_scribe(up_dup);
  self->configure_read(st->up_in, receive_policy::at_most(1024));
  if (st->upstream.connect_by_name
      && net::names_expected_on(flow.remote.port)) {
    // The proxy connection is made meanwhile.
    st->step = phase::naming;
    self->configure_read(st->app_in, receive_policy::at_most(first_read_chunk));
    self->delayed_send(self, net::name_wait, atom::sweep_v);
  } else {
    begin_exchange(self, st, {});
  }
  self->delayed_send(self, st->upstream.connect_timeout, atom::internal_v);
  self->set_down_handler([](caf::down_msg&) {});
  return {
      [=](const new_data_msg& m) {
        if (st->step == phase::pumping) {
          relay(self, st, m);
          return;
        }
        if (m.handle == st->app_in) {
          // Its first bytes (kept for the proxy, after the reply); a read
          // already under way when the name was taken comes here too.
          st->early.insert(st->early.end(), m.buf.begin(), m.buf.end());
          on_first_bytes(self, st, st->early.size() >= net::max_first_bytes);
          return;
        }
        if (m.handle != st->up_in)
          return;
        st->handshake.insert(st->handshake.end(), m.buf.begin(), m.buf.end());
        on_handshake_data(self, st);
      },
      [=](const data_transferred_msg& m) { on_transferred(self, st, m); },
      [=](atom::stop) {
        // Its flow left the table (evicted, expired, the computer sleeps).
        finish(self, st);
      },
      [=](const connection_closed_msg& m) { on_closed(self, st, m.handle); },
      [=](atom::sweep) { on_first_bytes(self, st, true); },
      [=](atom::internal) {
        if (st->step != phase::pumping && st->step != phase::done)
          proxy_failed(
              self, st,
              "the proxy did not answer within "
                  + std::to_string(st->upstream.connect_timeout.count())
                  + " ms");
        else if (st->step == phase::pumping) {
          report(st);
          self->delayed_send(self, std::chrono::seconds{1}, atom::internal_v);
        }
      },
  };
}

caf::behavior tcp_listener(caf::io::broker* self, platform::socket_handle fd,
                           flow_manager_actor fm,
                           std::vector<upstream_settings> upstreams) {
  report_panics(self);
  auto lg = log::get("tcp-listener");
  self->add_doorman(fd);
  // Each proxy's settings as the sessions it forks get them; what the
  // supervisor's checks learn goes in here.
  auto proxies
      = std::make_shared<std::vector<upstream_settings>>(std::move(upstreams));
  // Each SOCKS5 proxy's spares (an HTTP proxy's CONNECT has no greeting to
  // pay ahead).
  auto pools
      = std::make_shared<std::vector<std::shared_ptr<platform::spare_pool>>>();
  for (auto& u : *proxies) {
    platform::spare_pool_options o;
    o.proxy = u.proxy;
    o.auth = u.auth;
    o.login = u.login;
    o.password = u.password;
    o.spares = u.http ? 0 : u.spare_connections;
    o.connect_timeout = u.connect_timeout;
    pools->push_back(o.spares > 0
                         ? std::make_shared<platform::spare_pool>(std::move(o))
                         : nullptr);
  }
  return {
      [=](const caf::io::new_connection_msg& m) {
        auto peer = platform::peer_of(
            static_cast<platform::socket_handle>(m.handle.id()));
        if (!peer) {
          self->close(m.handle);
          return;
        }
        self->request(fm, std::chrono::seconds{2}, atom::get_v, *peer)
            .then(
                [=](const flow_lookup& flow) {
                  if (!flow.found) {
                    // Not a connection Drover redirected: no open relay into
                    // the user's proxy for other local programs.
                    lg->warn(
                        "refused a connection from {}:{} that Drover did not "
                        "redirect",
                        net::to_string(peer->ip), peer->port);
                    trace::record("tcp-listener", "refused",
                                  {{"peer", net::to_string(peer->ip)},
                                   {"port", peer->port}});
                    self->close(m.handle);
                    return;
                  }
                  // Linked: open sessions end with the listener (engine
                  // stop); known to the flow-manager: a session ends with
                  // its flow.
                  // Through its rule's proxy.
                  auto index = flow.proxy < proxies->size() ? flow.proxy : 0;
                  const auto& upstream = proxies->at(index);
                  std::shared_ptr<platform::spare_connection> spare;
                  if (auto& pool = pools->at(index))
                    spare = pool->take();
                  auto session = self->fork(socks_session, m.handle, flow,
                                            upstream, fm, std::move(spare));
                  self->link_to(session);
                  self->send(fm, atom::add_v, flow, session);
                },
                [=](caf::error&) { self->close(m.handle); });
      },
      [=](atom::update, atom::check, uint32_t proxy, bool reads_pipelined) {
        if (proxy >= proxies->size()
            || (*proxies)[proxy].pipelined == reads_pipelined)
          return;
        (*proxies)[proxy].pipelined = reads_pipelined;
        lg->info(reads_pipelined
                     ? "the proxy reads a greeting and a request sent "
                       "together: each new connection saves a round trip"
                     : "the proxy reads one message at a time: the greeting "
                       "and the request go one after the other");
      },
      [=](atom::reset) {
        // Every flow ends (the computer goes to sleep): the spares too.
        for (auto& pool : *pools)
          if (pool)
            pool->drop_all();
      },
      [=](const caf::io::acceptor_closed_msg&) {
        lg->error("the local listener closed");
        self->quit(caf::make_error(ec::driver_lost, "listener closed"));
      },
      [=](const caf::io::connection_closed_msg&) {},
      [=](const caf::io::new_data_msg&) {},
  };
}

} // namespace drover
