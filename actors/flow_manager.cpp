#include "actors/flow_manager.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/udp_association.hpp"
#include "net/bytes.hpp"

namespace drover {

namespace {

using platform::verdict_kind;

caf::timestamp wall_time(net::flow_time t, net::flow_time now) {
  // Flow times are steady-clock; show them as wall-clock times.
  auto age = now - t;
  return caf::make_timestamp() - std::chrono::duration_cast<caf::timespan>(age);
}

// The kernel marks a mangled packet's checksum as complete
// (nfqnl_mangle: CHECKSUM_NONE), so a partial one must be finished here,
// GSO super-packets included: left partial, their segments arrive with
// checksums the receiver rejects and the connection stalls.
void finish_checksum(net::packet_ref& p, const captured_packet& pkt) {
  if (pkt.checksum_partial)
    net::recompute_checksums(p.data, p.info);
}

} // namespace

verdict_kind flow_manager_state::fits_or_split(const net::packet_ref& p) {
  if (p.info.total_length <= max_verdict_packet)
    return verdict_kind::accept_modified;
  // Delivered as smaller segments instead; the original goes nowhere.
  if (!inject_split(p))
    stats.packets_dropped++;
  return verdict_kind::drop;
}

bool flow_manager_state::inject_split(const net::packet_ref& p) {
  const auto& info = p.info;
  size_t headers = info.payload_offset;
  size_t payload = info.payload_length;
  auto seq = net::load32(p.data + info.l4_offset + 4);
  uint8_t flags = info.tcp_flags;
  constexpr size_t piece = 32768;
  for (size_t off = 0; off < payload; off += piece) {
    size_t n = std::min(piece, payload - off);
    bool last = off + n == payload;
    std::copy(p.data, p.data + headers, scratch.begin());
    std::copy(p.data + headers + off, p.data + headers + off + n,
              scratch.begin() + static_cast<long>(headers));
    net::store16(scratch.data() + 2, static_cast<uint16_t>(headers + n));
    net::store32(scratch.data() + info.l4_offset + 4,
                 seq + static_cast<uint32_t>(off));
    // FIN and PSH belong to the last piece only.
    scratch[info.l4_offset + 13] = static_cast<uint8_t>(
        last ? flags : flags & ~(net::tcp_flag::fin | 0x08));
    net::packet_info piece_info = info;
    piece_info.total_length = static_cast<uint16_t>(headers + n);
    piece_info.payload_length = static_cast<uint16_t>(n);
    net::recompute_checksums(scratch.data(), piece_info);
    if (capture->injector().inject(scratch.data(), headers + n))
      return false;
  }
  return true;
}

verdict_kind flow_manager_state::decide(uint8_t* data,
                                        const captured_packet& pkt,
                                        net::flow_time now) {
  net::packet_ref p{data, {}};
  p.l4_checksum = pkt.checksum_partial ? net::checksum_state::partial
                                       : net::checksum_state::complete;
  if (net::parse(data, pkt.length, p.info) != net::parse_error::none) {
    stats.packets_dropped++;
    return verdict_kind::drop;
  }
  if (p.info.ip_version == 6) {
    // A target's IPv6 never leaks: dropped, and refused at once from the
    // remote's address (a connection attempt with a reset, a datagram with
    // a port unreachable), so it falls back to IPv4 without waiting for
    // its Happy Eyeballs timer or its own timeouts, as on Linux.
    if (p.info.protocol == net::proto_tcp)
      refuse(data, p.info);
    else if (p.info.protocol == net::proto_udp)
      refuse_datagram(data, p.info, now);
    stats.ipv6_dropped++;
    return verdict_kind::drop;
  }
  if (pkt.blocked) {
    // A program a `block` rule matches: a connection attempt is refused at
    // once (a reset from the remote's address), a datagram too (a port
    // unreachable, as the send fails on Linux), anything else dropped.
    if (p.info.is_tcp() && (p.info.tcp_flags & net::tcp_flag::rst) == 0)
      refuse(data, p.info);
    else if (p.info.is_udp())
      refuse_datagram(data, p.info, now);
    stats.packets_dropped++;
    return verdict_kind::drop;
  }
  if (p.info.protocol == net::proto_icmp)
    return on_icmp(data, p.info, now);
  if (!pkt.from_target && !net::is_from_listener(p.info, listener))
    return answer_to_flow(p, pkt, now);
  // A TCP fragment cannot be redirected: its checksum covers addresses in
  // other fragments (and those carry no ports to match). Stacks set DF on
  // TCP, so this is a broken or hostile packet; it falls through to drop.
  if (p.info.is_tcp() && !p.info.fragment) {
    if (net::is_from_listener(p.info, listener)) {
      auto* e = table->find_by_listener_peer(p.info.dst);
      if (e == nullptr) {
        // The listener talking to a local program that connected to it
        // directly: plain loopback traffic. Let it through, so the
        // listener can refuse that connection at once (and count it).
        return verdict_kind::accept;
      }
      net::from_listener(p, listener, e->nat());
      table->touch(*e, now);
      finish_checksum(p, pkt);
      return fits_or_split(p);
    }
    net::flow_key key{net::proto_tcp, p.info.src, p.info.dst};
    auto* e = table->find(key);
    const auto& its = policy_of(pkt.proxy); // its rule's proxy's
    if (e == nullptr) {
      bool syn = (p.info.tcp_flags & (net::tcp_flag::syn | net::tcp_flag::ack))
                 == net::tcp_flag::syn;
      if (!syn) {
        // Not the start of a connection Drover redirected (opened before
        // the process became a target, or expired): it cannot be proxied
        // and must not leak. A reset tells the application at once, so it
        // connects again, this time through the proxy.
        if (its.tcp != new_flow_policy::drop
            && (p.info.tcp_flags & net::tcp_flag::rst) == 0) {
          refuse(data, p.info);
          stats.connections_reset++;
        }
        stats.packets_dropped++;
        return verdict_kind::drop;
      }
      if (its.tcp != new_flow_policy::proxy)
        return not_proxied(data, p.info, key, now,
                           pkt.fallback_direct
                                   && its.tcp != new_flow_policy::drop
                               ? new_flow_policy::direct
                               : its.tcp);
      e = table->insert(key, now,
                        [&](const net::flow_entry& victim) { evict(victim); });
      if (e == nullptr) {
        stats.packets_dropped++;
        return verdict_kind::drop;
      }
      e->pid = pkt.pid;
      e->proxy = pkt.proxy;
    } else {
      if (e->relayed) {
        // Queued by the rules of a moment ago, untracked: the kernel's
        // redirect cannot take it; the application sends it again.
        stats.packets_dropped++;
        return verdict_kind::drop;
      }
      table->touch(*e, now);
      if (e->direct)
        return verdict_kind::pass;
    }
    net::to_listener(p, listener, e->nat());
    finish_checksum(p, pkt);
    return fits_or_split(p);
  }
  if (p.info.is_udp() && !p.info.fragment) {
    const auto& its = policy_of(pkt.proxy); // its rule's proxy's
    if (its.udp == new_flow_policy::direct
        || (pkt.fallback_direct && its.udp != new_flow_policy::proxy
            && its.udp != new_flow_policy::drop))
      return verdict_kind::pass;
    if (its.udp != new_flow_policy::proxy) {
      // A proxy that carries TCP and cannot carry UDP (TCP-only), which
      // lasts: refused at once, so a connected socket (a resolver's,
      // QUIC's) learns now instead of waiting out its own timeouts. While
      // the proxy cannot be used at all (Starting, Reconnecting: for
      // moments) or the computer sleeps, only dropped: a voice client that
      // keeps sending resumes when the proxy is back, where an error might
      // have made it hang up.
      if (its.udp == new_flow_policy::refuse
          && its.tcp == new_flow_policy::proxy)
        refuse_datagram(data, p.info, now);
      stats.packets_dropped++;
      return verdict_kind::drop;
    }
    net::flow_key key{net::proto_udp, p.info.src, p.info.dst};
    auto* e = table->find(key);
    if (e == nullptr) {
      e = table->insert(key, now,
                        [&](const net::flow_entry& victim) { evict(victim); });
      if (e == nullptr) {
        stats.packets_dropped++;
        return verdict_kind::drop;
      }
      e->pid = pkt.pid;
      e->proxy = pkt.proxy;
      auto& a = associations[key_of(key.src)];
      if (a.flows++ == 0 && !a.actor)
        a.proxy = pkt.proxy;
    } else {
      table->touch(*e, now);
    }
    relay_udp(p, *e);
    // Relayed through the association; the original must not go out.
    return verdict_kind::drop;
  }
  // Fragments (SOCKS5 cannot carry them) and other protocols: not proxied,
  // so not let out either.
  stats.packets_dropped++;
  return verdict_kind::drop;
}

verdict_kind flow_manager_state::answer_to_flow(net::packet_ref& p,
                                                const captured_packet& pkt,
                                                net::flow_time now) {
  // A reset the application's stack sent for a proxied connection whose
  // socket is gone (a late segment from the listener met a closed port):
  // it belongs to the flow, through the listener, never to the remote.
  if (!p.info.is_tcp() || p.info.fragment)
    return verdict_kind::accept;
  auto* e = table->find({net::proto_tcp, p.info.src, p.info.dst});
  if (e == nullptr || e->direct || e->relayed)
    return verdict_kind::accept; // someone else's, or conntrack's to answer
  table->touch(*e, now);
  net::to_listener(p, listener, e->nat());
  finish_checksum(p, pkt);
  return fits_or_split(p);
}

verdict_kind flow_manager_state::on_icmp(const uint8_t* data,
                                         const net::packet_info& info,
                                         net::flow_time now) {
  net::refused_datagram refused;
  if (!net::parse_port_unreachable(data, info, refused))
    return verdict_kind::accept; // someone else's: on its way
  // The application's stack refused a reply Drover injected (src: the
  // remote, dst: the application): its socket is closed. Let out, the
  // error would tell the remote the application's own address, direct.
  net::flow_key key{net::proto_udp, refused.dst, refused.src};
  if (auto* e = table->find(key)) {
    forget(*e);
    table->erase(*e);
  } else if (refused.ip_id == net::delivered_ip_id) {
    // The relay delivered it, and its news has not come yet.
    refused_early[refused_next] = {key, now};
    refused_next = (refused_next + 1) % refused_early.size();
  } else if (std::find(ended_udp.begin(), ended_udp.end(), key)
             == ended_udp.end()) {
    return verdict_kind::accept; // not about a flow of Drover's
  }
  stats.packets_dropped++;
  return verdict_kind::drop;
}

verdict_kind flow_manager_state::not_proxied(uint8_t* data,
                                             const net::packet_info& info,
                                             const net::flow_key& key,
                                             net::flow_time now,
                                             new_flow_policy what) {
  if (what == new_flow_policy::direct) {
    // The user's choice while the proxy is down: this connection goes
    // direct for its whole life (it cannot move to the proxy later).
    auto* e = table->insert(
        key, now, [&](const net::flow_entry& victim) { evict(victim); });
    if (e != nullptr) {
      e->direct = true;
      return verdict_kind::pass;
    }
  } else if (what == new_flow_policy::refuse) {
    refuse(data, info);
  }
  stats.packets_dropped++;
  return verdict_kind::drop;
}

void flow_manager_state::refuse(const uint8_t* data,
                                const net::packet_info& info) {
  auto n = net::build_tcp_reset(scratch.data(), scratch.size(), data, info);
  if (n > 0)
    capture->injector().inject(scratch.data(), n);
}

void flow_manager_state::refuse_datagram(const uint8_t* data,
                                         const net::packet_info& info,
                                         net::flow_time now) {
  // Each try counts, answered or not: a failing injection is not retried
  // for every datagram of a program that keeps sending.
  if (!refusals.allow(now))
    return;
  auto n = info.ip_version == 6
               ? net::build_icmp6_port_unreachable(scratch.data(),
                                                   scratch.size(), data, info)
               : net::build_icmp_port_unreachable(scratch.data(),
                                                  scratch.size(), data, info);
  if (n > 0)
    capture->injector().inject(scratch.data(), n);
}

void flow_manager_state::relay_udp(const net::packet_ref& p,
                                   net::flow_entry& e) {
  auto k = key_of(p.info.src);
  auto& a = associations[k];
  if (a.pending.items.empty())
    touched.push_back(k);
  auto at = a.pending.bytes.size();
  a.pending.bytes.insert(a.pending.bytes.end(), p.data + p.info.payload_offset,
                         p.data + p.info.payload_offset
                             + p.info.payload_length);
  a.pending.items.push_back(
      {p.info.dst, static_cast<uint32_t>(at), p.info.payload_length});
  e.bytes_out += p.info.payload_length;
  stats.bytes_out += p.info.payload_length;
}

void flow_manager_state::flush_udp() {
  for (auto k : touched) {
    auto it = associations.find(k);
    if (it == associations.end())
      continue;
    auto& a = it->second;
    if (!a.actor)
      a.actor = spawn_association(
          net::endpoint{net::ipv4_address{static_cast<uint32_t>(k >> 16)},
                        static_cast<uint16_t>(k & 0xffff)},
          a.proxy);
    caf::anon_send(a.actor, std::move(a.pending));
    a.pending = {};
  }
  touched.clear();
}

void flow_manager_state::evict(const net::flow_entry& victim) {
  stats.flows_evicted++;
  trace::record(name, "evict", {{"flow", victim.id}});
  forget(victim);
}

void flow_manager_state::forget(const net::flow_entry& e) {
  if (e.key.protocol == net::proto_udp)
    return forget_udp(e);
  if (e.relayed) {
    if (auto relay = relay_of(e.cookie); !e.closing() && relay)
      caf::anon_send(relay, atom::stop_v, e.cookie);
    return;
  }
  auto it = sessions.find(e.id);
  if (it == sessions.end())
    return;
  // Asked, not killed: an exit would travel its link to the listener.
  caf::anon_send(it->second, atom::stop_v);
  sessions.erase(it);
}

uint32_t flow_manager_state::reset_all() {
  // One message ends every relayed stream, not one per flow.
  for (auto& relay : relays)
    if (relay)
      caf::anon_send(relay, atom::reset_v);
  return static_cast<uint32_t>(table->erase_all([&](const net::flow_entry& e) {
    if (!e.relayed)
      forget(e);
  }));
}

void flow_manager_state::process(packet_batch_buffer& batch,
                                 net::flow_time now) {
  verdicts.clear();
  for (auto& pkt : batch.packets) {
    auto* data = batch.bytes(pkt);
    auto kind = decide(data, pkt, now);
    verdicts.push_back({pkt.id, kind, data, pkt.length, pkt.meta});
  }
  flush_udp();
  if (auto ec = capture->port().send_verdicts(verdicts.data(), verdicts.size()))
    log::get(name)->error("sending verdicts failed: {}", ec.message());
}

net::flow_entry* flow_manager_state::session_flow(const flow_lookup& flow) {
  // By 4-tuple (a hash lookup), then by id: a newer flow may reuse the
  // 4-tuple after this one expired.
  auto* e = table->find({net::proto_tcp, flow.app, flow.remote});
  return e != nullptr && e->id == flow.id ? e : nullptr;
}

flow_descriptor flow_manager_state::describe(const net::flow_entry& e,
                                             net::flow_time now) const {
  flow_descriptor d;
  d.id = e.id;
  d.protocol = e.key.protocol;
  d.src_ip = e.key.src.ip.value;
  d.src_port = e.key.src.port;
  d.dst_ip = e.key.dst.ip.value;
  d.dst_port = e.key.dst.port;
  d.bytes_in = e.bytes_in;
  d.bytes_out = e.bytes_out;
  d.pid = e.pid;
  d.proxy_index
      = e.relayed ? platform::relay_channel_of(e.cookie) : uint32_t{e.proxy};
  d.started = wall_time(e.created, now);
  d.last_seen = wall_time(e.last_seen, now);
  return d;
}

stats_snapshot current_stats(const flow_manager_state& st) {
  auto s = st.stats;
  auto port = st.capture->port().counters();
  s.queue_overflows = port.overruns + port.queue_full;
  s.tcp_flows = 0;
  s.udp_flows = 0;
  st.table->for_each([&](const net::flow_entry& e) {
    if (e.closing())
      return;
    (e.key.protocol == net::proto_tcp ? s.tcp_flows : s.udp_flows)++;
  });
  return s;
}

flow_manager_actor::behavior_type
flow_manager(flow_manager_actor::stateful_pointer<flow_manager_state> self,
             platform::capture_session* capture, flow_manager_config cfg) {
  report_panics(self);
  auto& st = self->state;
  st.capture = capture;
  st.listener = cfg.listener;
  st.policy = cfg.policy;
  st.proxy_policies = cfg.proxy_policies;
  st.sessions.reserve(cfg.table.max_flows);
  cfg.table.listener = {cfg.listener.loopback_ip, cfg.listener.port};
  st.table = std::make_unique<net::flow_table>(cfg.table);
  st.verdicts.reserve(1024);
  st.scratch.resize(net::max_packet_size);
  auto upstreams = cfg.upstreams;
  if (upstreams.empty())
    upstreams.emplace_back(); // (tests without a proxy)
  st.spawn_association =
      [self, upstreams, owner = cfg.parent](net::endpoint app, uint8_t proxy) {
        // The association goes to its socket's rule's proxy.
        const auto& upstream
            = upstreams[proxy < upstreams.size() ? proxy : size_t{0}];
        auto a = self->system().middleman().spawn_broker(
            udp_association, app, upstream, &self->state.capture->injector(),
            flow_manager_actor{self});
        // Linked: an association ends with the flow-manager (engine stop).
        self->link_to(a);
        self->monitor(a);
        // Sent before this actor's own down message can be: the owner keeps
        // the session until the association is down as well.
        if (owner)
          self->send(owner, atom::add_v, a);
        return a;
      };
  self->set_down_handler([self](caf::down_msg& dm) {
    // An association that died on its own is forgotten; the application's
    // next datagram starts a new one.
    for (auto& [k, a] : self->state.associations)
      if (a.actor && a.actor.address() == dm.source)
        a.actor = nullptr;
  });
  auto lg = log::get(self->name());
  lg->info("flow table for {} flows, listener 127.0.0.1:{}",
           cfg.table.max_flows, cfg.listener.port);
  self->delayed_send(self, cfg.sweep_interval, atom::sweep_v);
  if (cfg.parent)
    self->delayed_send(self, cfg.stats_interval, atom::stats_v);
  return {
      [=](packet_batch& batch) {
        // The actor clock: steady_clock, or the test coordinator's in tests.
        self->state.process(*batch.buffer, self->clock().now());
        if (self->state.reader)
          self->send(self->state.reader, std::move(batch));
      },
      [=](atom::get, const net::endpoint& peer) {
        flow_lookup r;
        if (auto* e = self->state.table->find_by_listener_peer(peer)) {
          r.found = true;
          r.id = e->id;
          r.app = e->key.src;
          r.remote = e->key.dst;
          r.proxy = e->proxy;
        } else {
          self->state.stats.refused_listener++;
        }
        return r;
      },
      [=](atom::update, const flow_lookup& flow, uint64_t in, uint64_t out) {
        if (auto* e = self->state.session_flow(flow)) {
          self->state.stats.bytes_in += in - e->bytes_in;
          self->state.stats.bytes_out += out - e->bytes_out;
          e->bytes_in = in;
          e->bytes_out = out;
        }
      },
      [=](atom::closed, const flow_lookup& flow) {
        self->state.sessions.erase(flow.id);
        auto* e = self->state.session_flow(flow);
        if (e != nullptr && !e->closing())
          self->state.table->mark_closing(*e, self->clock().now());
      },
      [=](process_set&) {
        // Linux attributes by cgroup, not by PID: nothing to do here.
      },
      [=](atom::get, atom::flows) {
        std::vector<flow_descriptor> out;
        self->state.table->for_each([&](const net::flow_entry& e) {
          out.push_back(self->state.describe(e, self->clock().now()));
        });
        return out;
      },
      [=](atom::get, atom::stats) { return current_stats(self->state); },
      [=](atom::stats) {
        self->send(cfg.parent, current_stats(self->state));
        self->delayed_send(self, cfg.stats_interval, atom::stats_v);
      },
      [=](atom::update, flow_policy policy) { set_policy(self, policy); },
      [=](atom::update, uint32_t proxy, flow_policy policy) {
        set_proxy_policy(self, proxy, policy);
      },
      [=](atom::get, atom::status) { return relays_in_force(self); },
      [=](atom::reset) {
        auto n = self->state.reset_all();
        if (n > 0)
          lg->info("{} connections closed", n);
        return n;
      },
      [=](atom::add, const flow_lookup& flow, caf::actor session) {
        // Its flow may be gone already (evicted while the session started).
        if (self->state.session_flow(flow) != nullptr)
          self->state.sessions[flow.id] = std::move(session);
        else
          caf::anon_send(session, atom::stop_v);
      },
      [=](atom::internal, divert_reader_actor reader) {
        self->state.reader = std::move(reader);
      },
      [=](net::stream_news_batch& batch) {
        self->state.on_news(batch, self->clock().now());
      },
      [=](atom::internal, kernel_relay_actor relay, uint32_t proxy) {
        add_relay(self, std::move(relay), proxy);
      },
      [=](atom::fault) {
#ifdef DROVER_FAULT_INJECTION
        throw std::runtime_error{"injected fault (a test hook)"};
#endif
      },
      [=](atom::fault, uint32_t stall_ms) {
#ifdef DROVER_FAULT_INJECTION
        std::this_thread::sleep_for(std::chrono::milliseconds{stall_ms});
#else
        (void)stall_ms;
#endif
      },
      [=](atom::sweep) {
        auto n = self->state.table->sweep(
            self->clock().now(), [&](const net::flow_entry& e) {
              trace::record(self->name(), "expire", {{"flow", e.id}});
              self->state.forget(e);
            });
        if (n > 0)
          lg->debug("{} idle flows expired", n);
        self->delayed_send(self, cfg.sweep_interval, atom::sweep_v);
      },
  };
}

void set_reader(const flow_manager_actor& fm, const divert_reader_actor& r) {
  caf::anon_send(fm, atom::internal_v, r);
}

} // namespace drover
