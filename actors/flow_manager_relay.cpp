// The flow-manager's side of the kernel-relay (Linux): the relay's streams
// and UDP flows enter, update and leave the flow table from its news. Apart
// from the packet path (flow_manager.cpp), which never sees these flows'
// packets.

#include "actors/flow_manager.hpp"

#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"

namespace drover {

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
