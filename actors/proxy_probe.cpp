#include "actors/proxy_probe.hpp"

#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "actors/platform/probe_socket.hpp"
#include "actors/platform/sockets.hpp"
#include "net/http_connect.hpp"
#include "net/socks5.hpp"
#include "net/socks5_handshake.hpp"
#include "net/stun.hpp"

namespace drover {

namespace {

namespace socks5 = net::socks5;
using platform::probe_socket;
using platform::resolve_ipv4;
using clock = std::chrono::steady_clock;

// One TCP connection to the proxy, every wait bounded by the deadline.
class probe_connection {
public:
  explicit probe_connection(clock::time_point deadline) : deadline_(deadline) {}
  net::socks5::error protocol_error = net::socks5::error::none;
  bool closed_by_peer = false; // after the connection was made

  probe_connection(const probe_connection&) = delete;
  probe_connection& operator=(const probe_connection&) = delete;

  // "" on success, else what went wrong.
  std::string connect(net::endpoint to) {
    if (auto e = socket_.open(probe_socket::kind::stream); !e.empty())
      return e;
    bool pending = false;
    if (auto e = socket_.start_connect(to, pending); !e.empty() || !pending)
      return e;
    if (!wait(true))
      return "no answer (timed out)";
    return socket_.connect_result();
  }

  std::string send_all(const uint8_t* data, size_t n) {
    while (n > 0) {
      if (!wait(true))
        return "timed out while sending";
      size_t sent = 0;
      std::string error;
      if (socket_.send(data, n, sent, error) == probe_socket::status::failed)
        return error;
      data += sent;
      n -= sent;
    }
    return "";
  }

  // Feeds the proxy's bytes to `h`, reading more as needed, until it has
  // something to send, is ready for its request, done or failed; "" with
  // `step` set, else what went wrong.
  std::string advance(socks5::client_handshake& h,
                      socks5::client_handshake::step& step) {
    using action = socks5::client_handshake::step::action;
    for (;;) {
      step = h.feed(buf_, used_);
      std::memmove(buf_, buf_ + step.consumed, used_ - step.consumed);
      used_ -= step.consumed;
      if (step.what == action::failed) {
        protocol_error = step.err;
        return socks5::message(step.err);
      }
      if (step.what != action::need_more)
        return "";
      if (used_ == sizeof buf_)
        return "the proxy sent an oversized answer";
      if (!wait(false))
        return "the proxy did not answer in time";
      size_t n = 0;
      std::string error;
      auto st = socket_.receive(buf_ + used_, sizeof buf_ - used_, n, error);
      if (st == probe_socket::status::failed)
        return error;
      if (st == probe_socket::status::done && n == 0) {
        closed_by_peer = true;
        return "the proxy closed the connection";
      }
      used_ += n;
    }
  }

  // Sends an HTTP CONNECT and reads the answer's header into `a`; "" or
  // what went wrong on the way (an answer that is no CONNECT's is `a`'s).
  std::string http_exchange(const std::string& request,
                            net::http_connect::answer& a) {
    if (auto e = send_all(reinterpret_cast<const uint8_t*>(request.data()),
                          request.size());
        !e.empty())
      return e;
    std::vector<uint8_t> in;
    for (;;) {
      a = net::http_connect::read_answer(in.data(), in.size());
      if (a.what != net::http_connect::outcome::need_more)
        return "";
      if (!wait(false))
        return "the proxy did not answer in time";
      size_t n = 0;
      std::string error;
      auto st = socket_.receive(buf_, sizeof buf_, n, error);
      if (st == probe_socket::status::failed)
        return error;
      if (st == probe_socket::status::done && n == 0)
        return "the proxy closed the connection";
      in.insert(in.end(), buf_, buf_ + n);
    }
  }

  // Sends what `step` carries (action::send), then advances `h`.
  std::string send_and_advance(socks5::client_handshake& h,
                               socks5::client_handshake::step& step) {
    if (auto e = send_all(step.bytes, step.size); !e.empty())
      return e;
    return advance(h, step);
  }

private:
  bool wait(bool for_write) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - clock::now());
    return left.count() > 0 && socket_.wait(for_write, left);
  }

  probe_socket socket_;
  clock::time_point deadline_;
  uint8_t buf_[600];
  size_t used_ = 0;
};

uint32_t micros_since(clock::time_point t) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t)
          .count());
}

// The greeting and, when the proxy picks it, the login: `h` is then ready
// for its request. `step` runs each as a recorded step, or silently for a
// second connection. False when one failed.
template<class Step>
bool handshake(probe_connection& c, socks5::client_handshake& h, Step&& step) {
  using action = socks5::client_handshake::step::action;
  auto next = h.start();
  bool ok = step("greeting", [&] { return c.send_and_advance(h, next); });
  if (ok && next.what == action::send)
    ok = step("authentication", [&] { return c.send_and_advance(h, next); });
  return ok && h.current() == socks5::client_handshake::stage::ready;
}

// Sends the request (CONNECT or UDP ASSOCIATE) and reads the reply.
std::string request_and_reply(probe_connection& c, socks5::client_handshake& h,
                              socks5::command cmd, const socks5::address& dst,
                              socks5::address& bound) {
  auto next = h.request(cmd, dst);
  if (next.what != socks5::client_handshake::step::action::send)
    return socks5::message(next.err);
  if (auto e = c.send_and_advance(h, next); !e.empty())
    return e;
  bound = h.bound();
  return "";
}

// A fresh connection that is greeted and logged in; "" on success.
std::string second_connection(probe_connection& c, socks5::client_handshake& h,
                              const probe_request& request) {
  if (auto e = c.connect(request.proxy); !e.empty())
    return "connecting to the proxy again: " + e;
  std::string error;
  handshake(c, h, [&](const char* name, auto&& body) {
    auto e = body();
    if (!e.empty())
      error = std::string{name} + " on a second connection: " + e;
    return e.empty();
  });
  return error;
}

// A UDP socket that sends one STUN Binding request through the relay (and
// again, with growing pauses, until the deadline) and waits for its answer.
std::string stun_round_trip(net::endpoint relay, net::endpoint server,
                            clock::time_point deadline, std::string& info) {
  probe_socket udp;
  if (auto e = udp.open(probe_socket::kind::datagram); !e.empty())
    return e;
  bool pending = false;
  if (auto e = udp.start_connect(relay, pending); !e.empty())
    return "cannot reach the relay: " + e;
  net::stun::transaction_id id;
  std::random_device random;
  for (auto& b : id)
    b = static_cast<uint8_t>(random());
  uint8_t out[64];
  auto dst = socks5::address::from_ipv4(server.ip, server.port);
  auto header = socks5::write_udp_header(out, sizeof out, dst);
  auto length = header
                + net::stun::encode_binding_request(out + header,
                                                    sizeof out - header, id);
  auto pause = std::chrono::milliseconds{250};
  auto next_send = clock::now();
  std::string last_problem = "no answer came back";
  for (;;) {
    auto now = clock::now();
    if (now >= deadline)
      return last_problem;
    if (now >= next_send) {
      size_t sent = 0;
      std::string error;
      if (udp.send(out, length, sent, error) == probe_socket::status::failed)
        last_problem = "sending to the relay: " + error;
      next_send = now + pause;
      pause *= 2; // RFC 5389 §7.2.1: retransmit with doubling pauses
    }
    auto wake = std::min(deadline, next_send);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        wake - clock::now());
    if (!udp.wait(false, std::max(left, std::chrono::milliseconds{0})))
      continue;
    uint8_t in[1500];
    size_t n = 0;
    std::string error;
    auto st = udp.receive(in, sizeof in, n, error);
    if (st == probe_socket::status::refused)
      last_problem = "an ICMP 'port unreachable' came back: the relay or the "
                     "server turned the datagram away";
    if (st != probe_socket::status::done)
      continue;
    socks5::udp_datagram d;
    auto e = socks5::parse_udp_datagram(in, static_cast<size_t>(n), d);
    if (e != socks5::error::none) {
      last_problem = std::string{"the relay sent a malformed datagram: "}
                     + socks5::message(e);
      continue;
    }
    net::endpoint mapped;
    auto se = net::stun::parse_binding_response(
        in + d.payload_offset, static_cast<size_t>(n) - d.payload_offset, id,
        mapped);
    if (se == net::stun::error::other_transaction)
      continue; // a late answer to nothing of ours
    if (se != net::stun::error::none)
      return net::stun::message(se);
    info = "the STUN server saw the proxy's relay as "
           + net::to_string(mapped.ip) + ":" + std::to_string(mapped.port);
    return "";
  }
}

// Whether the proxy reads a greeting and a request that arrive together:
// some (microsocks) read one message per read and drop the rest, and then
// never answer the request. Any well-formed reply, success or refusal,
// proves it was read. UDP ASSOCIATE asks the proxy to reach nothing; it is
// the request every SOCKS5 proxy parses even when it refuses it. Bounded
// by a few of the greeting's round trips, so a proxy that does not answer
// costs the check little.
bool reads_pipelined(const probe_request& request, uint32_t greeting_micros) {
  auto wait = std::chrono::microseconds{4 * uint64_t{greeting_micros}}
              + std::chrono::milliseconds{250};
  auto deadline
      = clock::now()
        + std::min<clock::duration>(
            wait, std::chrono::duration_cast<clock::duration>(request.budget));
  probe_connection c{deadline};
  if (!c.connect(request.proxy).empty())
    return false;
  socks5::client_handshake h{
      false,
      {},
      {},
      socks5::command::udp_associate,
      socks5::address::from_ipv4(net::ipv4_address{0}, 0)};
  auto step = h.start_pipelined();
  if (step.what != socks5::client_handshake::step::action::send)
    return false;
  auto e = c.send_and_advance(h, step);
  if (step.what == socks5::client_handshake::step::action::done)
    return true;
  auto refused = c.protocol_error;
  return !e.empty() && refused >= socks5::error::general_failure
         && refused <= socks5::error::unassigned_reply_code;
}

// An HTTP proxy: the TCP connect, a CONNECT (to the check's target, or to
// the proxy itself: any well-formed answer shows an HTTP proxy), and no
// UDP, which HTTP proxies do not relay.
probe_result probe_http_proxy(const probe_request& request) {
  probe_result out;
  probe_connection c{clock::now() + request.budget};
  auto step = [&](const std::string& name, probe_verdict on_failure,
                  const std::string& info, auto&& body) {
    auto start = clock::now();
    std::string error = body();
    out.steps.push_back({name, error.empty(), micros_since(start),
                         error.empty() ? info : error});
    if (!error.empty() && out.reason.empty()) {
      out.verdict = on_failure;
      out.reason = name + ": " + error;
    }
    return error.empty();
  };
  if (!step("TCP connect", probe_verdict::unreachable, "",
            [&] { return c.connect(request.proxy); }))
    return out;
  net::http_connect::answer a;
  std::string host = net::to_string(request.proxy.ip);
  uint16_t port = request.proxy.port;
  std::string error;
  if (request.connect_to) {
    auto ip = resolve_ipv4(request.connect_to->host, error);
    if (!ip)
      error += " (this computer cannot look the name up)";
    host = ip ? net::to_string(*ip) : host;
    port = request.connect_to->port;
  }
  auto name = request.connect_to ? "CONNECT " + request.connect_to->text()
                                 : std::string{"HTTP CONNECT"};
  bool answered
      = step(name, probe_verdict::unreachable,
             request.connect_to ? "connected through the proxy"
                                : "the HTTP proxy answered",
             [&] {
               if (!error.empty())
                 return error;
               auto e = c.http_exchange(
                   net::http_connect::request(
                       host, port, request.auth ? request.login : std::string{},
                       request.auth ? request.password : std::string{}),
                   a);
               if (!e.empty())
                 return e;
               using net::http_connect::outcome;
               bool fine
                   = a.what == outcome::connected
                     || (!request.connect_to && a.what == outcome::refused);
               return fine ? std::string{} : net::http_connect::message(a);
             });
  if (!answered) {
    using net::http_connect::outcome;
    if (a.what == outcome::auth_required)
      out.verdict = probe_verdict::auth_rejected;
    else if (a.what == outcome::not_http || a.what == outcome::too_large)
      out.verdict = probe_verdict::not_socks5;
    else if (a.what == outcome::refused)
      out.verdict = probe_verdict::path_failed;
    return out;
  }
  out.udp_refused = true;
  out.udp_detail = "an HTTP proxy relays no UDP";
  out.steps.push_back({"UDP", false, 0,
                       "an HTTP proxy relays no UDP: Discord voice will not "
                       "work through it"});
  out.verdict = probe_verdict::tcp_only;
  return out;
}

} // namespace

probe_result probe_proxy(const probe_request& request) {
  if (request.http)
    return probe_http_proxy(request);
  probe_result out;
  auto deadline = clock::now() + request.budget;
  probe_connection c{deadline};
  // Runs one step; false (and the check's verdict set) when it failed.
  // `info` may describe a success.
  std::string info;
  auto step
      = [&](const std::string& name, probe_verdict on_failure, auto&& body) {
          auto start = clock::now();
          info.clear();
          std::string error = body();
          probe_step s{name, error.empty(), micros_since(start),
                       error.empty() ? info : error};
          out.steps.push_back(s);
          if (!s.ok && out.reason.empty()) {
            out.verdict = on_failure;
            out.reason = name + ": " + error;
          }
          return s.ok;
        };
  auto unreachable = probe_verdict::unreachable;
  bool ok = step("TCP connect", unreachable,
                 [&] { return c.connect(request.proxy); });
  // The login and password stay in `request` as long as the exchanges.
  socks5::client_handshake exchange{request.auth, request.login,
                                    request.password};
  ok = ok && handshake(c, exchange, [&](const char* name, auto&& body) {
         return step(name, unreachable, body);
       });
  // Answers no retry will change: wrong credentials, credentials the proxy
  // wants but Drover was not given, or no SOCKS5 proxy at all.
  auto classify = [&](socks5::error e) {
    if (e == socks5::error::auth_rejected) {
      out.verdict = probe_verdict::auth_rejected;
      out.reason = "authentication rejected: the proxy did not accept the "
                   "login and password";
    } else if (e == socks5::error::no_acceptable_method) {
      out.verdict = probe_verdict::auth_rejected;
      out.reason = "the proxy wants a login method Drover was not configured "
                   "for (set [proxy] auth, login and password)";
    } else if (e == socks5::error::not_socks5) {
      out.verdict = probe_verdict::not_socks5;
      out.reason = "the server at the proxy address is not a SOCKS5 proxy";
    }
  };
  if (!ok) {
    classify(c.protocol_error);
    return out;
  }
  auto path = probe_verdict::path_failed;
  bool all = true;
  if (request.connect_to) {
    auto& t = *request.connect_to;
    all &= step("CONNECT " + t.text(), path, [&] {
      std::string error;
      auto ip = resolve_ipv4(t.host, error);
      if (!ip)
        return error + " (this computer cannot look the name up)";
      socks5::address bound;
      auto e
          = request_and_reply(c, exchange, socks5::command::connect,
                              socks5::address::from_ipv4(*ip, t.port), bound);
      if (!e.empty())
        return "the proxy could not open a connection to " + t.text() + " (" + e
               + "): applications' connections through it will fail";
      info = "connected to " + net::to_string(*ip) + ":"
             + std::to_string(t.port) + " through the proxy";
      return std::string{};
    });
  }
  if (request.udp_associate) {
    // The association lives as long as its TCP connection; after a CONNECT
    // that connection is a tunnel, so UDP gets a new one.
    std::optional<probe_connection> second;
    probe_connection* control = &c;
    socks5::client_handshake second_exchange{request.auth, request.login,
                                             request.password};
    socks5::client_handshake* control_exchange = &exchange;
    auto udp_deadline = clock::now() + request.budget;
    socks5::address bound;
    bool associated = step("UDP ASSOCIATE", unreachable, [&] {
      if (request.connect_to) {
        second.emplace(udp_deadline);
        control = &*second;
        control_exchange = &second_exchange;
        if (auto e = second_connection(*second, second_exchange, request);
            !e.empty())
          return e;
      }
      auto any = socks5::address::from_ipv4(net::ipv4_address{0}, 0);
      auto e = request_and_reply(*control, *control_exchange,
                                 socks5::command::udp_associate, any, bound);
      if (!e.empty()) {
        // Answered with a refusal, or hung up on: it does not do UDP, but
        // it is there (a timeout says nothing of the kind).
        auto refusal = control->protocol_error;
        out.udp_refused
            = control->closed_by_peer
              || (refusal >= socks5::error::general_failure
                  && refusal <= socks5::error::unassigned_reply_code);
        // Its answer without the advice: the Active event adds its own.
        out.udp_detail = control->closed_by_peer
                             ? "it closed the connection on UDP ASSOCIATE"
                             : e.substr(0, e.find(" ("));
        return "the proxy does not relay UDP (" + e
               + "): Discord voice will not work through it";
      }
      auto relay = socks5::relay_address(bound, request.proxy.ip);
      if (relay.type != socks5::address_type::ipv4)
        return std::string{"the proxy named a UDP relay that is not IPv4: "
                           "Drover cannot use it"};
      info = "relay at " + net::to_string(relay.ipv4) + ":"
             + std::to_string(relay.port);
      return std::string{};
    });
    all &= associated;
    if (associated && request.stun) {
      auto& t = *request.stun;
      all &= step("UDP round trip via STUN " + t.text(), path, [&] {
        std::string error;
        auto ip = resolve_ipv4(t.host, error);
        if (!ip)
          return error + " (this computer cannot look the name up)";
        auto relay = socks5::relay_address(bound, request.proxy.ip);
        auto e = stun_round_trip({relay.ipv4, relay.port}, {*ip, t.port},
                                 clock::now() + request.budget, info);
        if (!e.empty())
          return "a datagram sent through the proxy's UDP relay got no "
                 "answer from "
                 + t.text() + " (" + e
                 + "): Discord voice will likely not work through this proxy";
        return std::string{};
      });
    }
    if (!associated)
      classify(control->protocol_error);
  }
  if (all) {
    out.verdict = probe_verdict::ok;
  } else if (out.udp_refused) {
    // Only the UDP step failed, and by the proxy's own answer.
    bool others_ok = true;
    for (auto& s : out.steps)
      others_ok &= s.ok || s.name == "UDP ASSOCIATE";
    if (others_ok)
      out.verdict = probe_verdict::tcp_only;
  }
  if (request.try_pipelining && !request.auth && out.steps.size() > 1
      && out.steps[1].ok)
    out.pipelining = reads_pipelined(request, out.steps[1].micros);
  return out;
}

} // namespace drover
