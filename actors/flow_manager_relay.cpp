// The flow-manager's side of the kernel-relay (Linux): the policy for new
// flows, forwarded to each proxy's relay; the relay's streams and UDP flows
// enter, update and leave the flow table from its news. Apart from the
// packet path (flow_manager.cpp), which never sees these flows' packets.

#include "actors/flow_manager.hpp"

#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"

namespace drover {

namespace {

std::string policy_text(flow_policy p) {
  auto one = [](new_flow_policy x) {
    switch (x) {
      case new_flow_policy::proxy:
        return "through the proxy";
      case new_flow_policy::refuse:
        return "refused (the proxy cannot be used)";
      case new_flow_policy::direct:
        return "direct (the proxy cannot be used; when_not_proxying = "
               "\"direct\")";
      case new_flow_policy::drop:
        break;
    }
    return "dropped (the computer sleeps)";
  };
  if (p.tcp == p.udp)
    return one(p.tcp);
  return std::string{"TCP "} + one(p.tcp) + ", UDP "
         + (p.udp == new_flow_policy::refuse ? "dropped" : one(p.udp));
}

} // namespace

void set_policy(flow_manager_pointer self, flow_policy policy) {
  auto& fs = self->state;
  if (fs.policy != policy)
    log::get(self->name())->info("new connections: {}", policy_text(policy));
  fs.policy = policy;
  for (auto& p : fs.proxy_policies)
    p = policy; // every proxy's
  for (auto& relay : fs.relays)
    if (relay)
      self->send(relay, atom::update_v, policy);
}

void set_proxy_policy(flow_manager_pointer self, uint32_t proxy,
                      flow_policy policy) {
  auto& fs = self->state;
  auto lg = log::get(self->name());
  if (proxy == 0) {
    if (fs.policy != policy)
      lg->info("new connections: {}", policy_text(policy));
    fs.policy = policy;
  } else {
    lg->info("new connections through proxy {}: {}", proxy + 1,
             policy_text(policy));
  }
  if (fs.proxy_policies.size() <= proxy)
    fs.proxy_policies.resize(proxy + 1, fs.policy);
  fs.proxy_policies[proxy] = policy;
  if (proxy < fs.relays.size() && fs.relays[proxy])
    self->send(fs.relays[proxy], atom::update_v, policy);
}

void add_relay(flow_manager_pointer self, kernel_relay_actor relay,
               uint32_t proxy) {
  auto& fs = self->state;
  if (fs.relays.size() <= proxy)
    fs.relays.resize(proxy + 1);
  if (fs.proxy_policies.size() <= proxy)
    fs.proxy_policies.resize(proxy + 1, fs.policy);
  fs.relays[proxy] = std::move(relay);
  self->send(fs.relays[proxy], atom::update_v, fs.proxy_policies[proxy]);
}

caf::result<bool> relays_in_force(flow_manager_pointer self) {
  auto rp = self->make_response_promise<bool>();
  std::vector<kernel_relay_actor> relays;
  for (auto& relay : self->state.relays)
    if (relay)
      relays.push_back(relay);
  if (relays.empty()) {
    rp.deliver(true);
    return rp;
  }
  auto left = std::make_shared<size_t>(relays.size());
  auto one_done = [=]() mutable {
    if (--*left == 0)
      rp.deliver(true);
  };
  for (auto& relay : relays)
    self->request(relay, std::chrono::seconds{2}, atom::get_v, atom::status_v)
        .then([=](bool) mutable { one_done(); },
              [=](caf::error&) mutable { one_done(); });
  return rp;
}

net::flow_entry* flow_manager_state::relayed_flow(const net::stream_news& n) {
  auto* e = table->find({n.protocol, n.app, n.remote});
  return e != nullptr && e->relayed && e->cookie == n.id ? e : nullptr;
}

void flow_manager_state::on_news(const net::stream_news_batch& batch,
                                 net::flow_time now) {
  using kind = net::stream_news::kind;
  for (auto& n : batch) {
    switch (n.what) {
      case kind::opened:
      case kind::opened_direct: {
        net::flow_key key{n.protocol, n.app, n.remote};
        // The same 4-tuple as a flow that ended moments ago (its entry
        // lingers while closing): the new stream replaces it.
        if (auto* old = table->find(key)) {
          forget(*old);
          table->erase(*old);
        }
        auto* e = table->insert(
            key, now, [&](const net::flow_entry& victim) { evict(victim); });
        if (e == nullptr) {
          stats.packets_dropped++;
          if (auto relay = relay_of(n.id))
            caf::anon_send(relay, atom::stop_v, n.id);
          break;
        }
        e->relayed = true;
        e->cookie = n.id;
        e->direct = n.what == kind::opened_direct;
        if (n.protocol == net::proto_udp && refused_before_known(key, now)) {
          forget(*e); // the relay ends it: nobody will read its replies
          table->erase(*e);
          break;
        }
        trace::record("kernel-relay",
                      e->direct                      ? "direct"
                      : n.protocol == net::proto_udp ? "udp"
                                                     : "connect",
                      {{"flow", e->id},
                       {"to", net::to_string(n.remote.ip)},
                       {"port", n.remote.port}});
        break;
      }
      case kind::progress:
      case kind::ended:
        if (auto* e = relayed_flow(n)) {
          stats.bytes_in += n.in - e->bytes_in;
          stats.bytes_out += n.out - e->bytes_out;
          e->bytes_in = n.in;
          e->bytes_out = n.out;
          if (n.what == kind::progress) {
            table->touch(*e, now);
          } else if (!e->closing()) {
            table->mark_closing(*e, now);
            trace::record("kernel-relay", "closed",
                          {{"flow", e->id}, {"in", n.in}, {"out", n.out}});
          }
        }
        break;
      case kind::dropped:
        // Datagrams the relay could not pass on (not proxying now, a full
        // socket, an association not ready and its queue full).
        stats.packets_dropped += n.out;
        break;
      case kind::declined:
        // Not proxying now (Reconnecting, asleep): reset, as a SYN is.
        stats.packets_dropped++;
        break;
      case kind::not_redirected:
        // Not a connection the kernel redirected: no open relay into the
        // user's proxy for other local programs.
        stats.refused_listener++;
        log::get(name)->warn(
            "refused a connection from {}:{} that Drover did not redirect",
            net::to_string(n.app.ip), n.app.port);
        trace::record(
            "kernel-relay", "refused",
            {{"peer", net::to_string(n.app.ip)}, {"port", n.app.port}});
        break;
    }
  }
}

bool flow_manager_state::refused_before_known(const net::flow_key& key,
                                              net::flow_time now) {
  for (auto& [refused, when] : refused_early)
    if (refused == key && now - when < std::chrono::seconds{2}) {
      refused = {};
      return true;
    }
  return false;
}

void flow_manager_state::forget_udp(const net::flow_entry& e) {
  if (e.key.protocol != net::proto_udp)
    return;
  ended_udp[ended_next] = e.key;
  ended_next = (ended_next + 1) % ended_udp.size();
  if (e.relayed) {
    // The relay ends the application socket's association with its last
    // flow.
    if (auto relay = relay_of(e.cookie))
      caf::anon_send(relay, atom::stop_v, e.cookie);
    return;
  }
  auto it = associations.find(key_of(e.key.src));
  if (it == associations.end() || --it->second.flows > 0)
    return;
  if (it->second.actor)
    caf::anon_send(it->second.actor, atom::stop_v);
  associations.erase(it);
}

} // namespace drover
