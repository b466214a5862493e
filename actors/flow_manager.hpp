#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>

#include "actors/platform/capture.hpp"
#include "actors/platform/stream_relay.hpp"
#include "actors/socks_session.hpp"
#include "messages/interfaces.hpp"
#include "net/flow_table.hpp"
#include "net/rate_limit.hpp"

namespace drover {

struct flow_manager_config {
  net::listener_address listener;
  /// Every proxy as the associations use it, in the config's order.
  std::vector<upstream_settings> upstreams;
  net::flow_table::options table;
  std::chrono::milliseconds sweep_interval{2000};
  std::chrono::milliseconds stats_interval{1000}; // counters to `parent`
  /// What happens to new flows from the start. The supervisor starts with
  /// refuse (or direct) and switches to proxy once the proxy passed its
  /// check.
  flow_policy policy;
  /// Each proxy's from the start (several proxies: each one's relay);
  /// empty: `policy` for every one.
  std::vector<flow_policy> proxy_policies;
  /// The supervisor, which lent the capture session: told of each UDP
  /// association it is lent on to, as `(atom::add, actor)`, so that it
  /// outlives them too, and sent the counters every `stats_interval` (a
  /// push: nobody polls). Empty in tests that keep the session themselves.
  supervisor_actor parent;
};

struct flow_manager_state;

/// The counters now: what was counted, the open flows, the capture
/// queue's overflows.
stats_snapshot current_stats(const flow_manager_state& st);

struct flow_manager_state {
  static inline constexpr const char* name = "flow-manager";

  platform::capture_session* capture = nullptr; // lent by the supervisor
  net::listener_address listener;
  std::unique_ptr<net::flow_table> table;
  std::vector<platform::verdict> verdicts; // reused for every batch
  stats_snapshot stats;
  divert_reader_actor reader; // where processed batches go back
  /// Linux: the streams the kernel redirected, one relay per proxy (by
  /// its index).
  std::vector<kernel_relay_actor> relays;
  /// The relay a stream or flow id of `relays` came from (may be empty).
  kernel_relay_actor relay_of(uint64_t id) const {
    auto i = platform::relay_channel_of(id);
    return i < relays.size() ? relays[i] : kernel_relay_actor{};
  }
  /// Anything but proxy while the proxy cannot be used (Starting,
  /// Reconnecting, Failed, Paused): fail closed, nothing goes direct
  /// unless the user chose so (direct).
  flow_policy policy;
  /// Each proxy's, for its relay (the first proxy's is `policy`).
  std::vector<flow_policy> proxy_policies;
  /// What proxy `i`'s new flows get.
  const flow_policy& policy_of(uint8_t i) const {
    return i != 0 && i < proxy_policies.size() ? proxy_policies[i] : policy;
  }

  /// Each TCP flow's socks-session (by flow id), so that a flow that is
  /// evicted or expires takes its session and descriptors with it.
  std::unordered_map<uint64_t, caf::actor> sessions;

  /// One SOCKS5 UDP association per application socket, with the
  /// datagrams of the current batch waiting to go to it.
  struct association {
    caf::actor actor;
    uint32_t flows = 0;
    udp_batch pending;
    uint8_t proxy = 0; // its socket's rule's proxy
  };
  std::unordered_map<uint64_t, association> associations;

  /// UDP flows that ended lately: their association may still inject a
  /// reply or two after it (it stops asynchronously), and the application's
  /// socket may be gone by then. A ring, allocated once.
  std::array<net::flow_key, 1024> ended_udp{};
  size_t ended_next = 0;
  /// Relayed UDP flows whose application refused a reply (its socket
  /// closed) before the relay's news of them arrived: ended as they do.
  std::array<std::pair<net::flow_key, net::flow_time>, 64> refused_early{};
  size_t refused_next = 0;
  std::vector<uint64_t> touched; // associations with pending datagrams
  std::function<caf::actor(net::endpoint, uint8_t proxy)> spawn_association;

  static uint64_t key_of(net::endpoint e) {
    return (uint64_t{e.ip.value} << 16) | e.port;
  }

  /// A UDP datagram from the application: queued for its association.
  void relay_udp(const net::packet_ref& p, net::flow_entry& e);

  /// Sends each association its datagrams of this batch.
  void flush_udp();

  /// A UDP flow is gone; its association closes with its last flow.
  void forget_udp(const net::flow_entry& e);

  /// A flow leaves the table (evicted, expired, reset): its session or its
  /// share of an association goes with it.
  void forget(const net::flow_entry& e);

  /// The flow cap made room: counted, then forgotten.
  void evict(const net::flow_entry& victim);

  /// Every flow ends now (the computer goes to sleep). Returns how many.
  uint32_t reset_all();

  /// Decides every packet of a batch and sends the verdicts (one system
  /// call). Runs on the packet path: no allocation, no blocking.
  void process(packet_batch_buffer& batch, net::flow_time now);

  /// Decides one packet; rewrites it in place when it is redirected.
  platform::verdict_kind decide(uint8_t* data, const captured_packet& pkt,
                                net::flow_time now);

  /// What the kernel-relay reports: its streams enter, update and leave the
  /// table like the flows of rewritten packets.
  void on_news(const net::stream_news_batch& batch, net::flow_time now);
  /// The table's entry for a relay's stream, if it still exists.
  net::flow_entry* relayed_flow(const net::stream_news& n);
  /// The TCP flow a socks-session reports about, if it still exists.
  net::flow_entry* session_flow(const flow_lookup& flow);

  flow_descriptor describe(const net::flow_entry& e, net::flow_time now) const;

  /// The largest packet a verdict can carry back: NFQA_PAYLOAD's length is
  /// 16 bits with a 4-byte header, while GSO packets reach 65535 bytes.
  static constexpr uint32_t max_verdict_packet = 65531;

  /// accept_modified if the rewritten packet fits a verdict; otherwise it is
  /// split and injected, and the original dropped.
  platform::verdict_kind fits_or_split(const net::packet_ref& p);

  /// Re-sends a rewritten TCP packet too large for a verdict as smaller
  /// segments through the injector (the original is then dropped).
  bool inject_split(const net::packet_ref& p);
  std::vector<uint8_t> scratch; // one packet, allocated once

  /// Answers a captured TCP segment with a reset (a SYN while not
  /// proxying; a segment of a connection Drover never saw begin).
  void refuse(const uint8_t* data, const net::packet_info& info);

  /// Answers a UDP datagram that may not go out (a target's IPv6, a
  /// blocked program's, a target's while its proxy is TCP-only) with an ICMP
  /// or ICMPv6 "port unreachable" from its remote, at most
  /// `refusals_per_second` a second (RFC 1812 4.3.2.8, RFC 4443 2.4 (f):
  /// an error's rate is limited; a program that keeps sending anyway is
  /// only dropped).
  void refuse_datagram(const uint8_t* data, const net::packet_info& info,
                       net::flow_time now);
  static constexpr uint32_t refusals_per_second = 100;
  net::per_second_limit refusals{refusals_per_second};

  /// A packet queued although no target sent it (a reset from any
  /// process): rewritten into its flow when it answers one Drover
  /// redirected, else let out unchanged.
  platform::verdict_kind answer_to_flow(net::packet_ref& p,
                                        const captured_packet& pkt,
                                        net::flow_time now);

  /// An ICMP error the rules queue (port unreachable, from any process):
  /// dropped when it answers a datagram Drover injected for an application
  /// whose socket is gone (and that flow ends); let out otherwise.
  platform::verdict_kind on_icmp(const uint8_t* data,
                                 const net::packet_info& info,
                                 net::flow_time now);
  /// True (once) if the application refused a reply of this relayed flow
  /// before it was known (refused_early, within 2 s).
  bool refused_before_known(const net::flow_key& key, net::flow_time now);

  /// A new TCP connection while not proxying: refused, dropped, or let out
  /// direct, as `what` (the policy, or the sender's rule) says.
  platform::verdict_kind not_proxied(uint8_t* data,
                                     const net::packet_info& info,
                                     const net::flow_key& key,
                                     net::flow_time now, new_flow_policy what);
};

/// Owns the flow table and decides every captured packet's fate. `capture`
/// is lent by its owner (the supervisor), which outlives this actor.
flow_manager_actor::behavior_type
flow_manager(flow_manager_actor::stateful_pointer<flow_manager_state> self,
             platform::capture_session* capture, flow_manager_config cfg);

using flow_manager_pointer
    = flow_manager_actor::stateful_pointer<flow_manager_state>;

// The policy for new flows and the relays that carry it out
// (flow_manager_relay.cpp).

/// What every proxy's new flows get; forwarded to each relay.
void set_policy(flow_manager_pointer self, flow_policy policy);
/// What one proxy's new flows get; forwarded to its relay.
void set_proxy_policy(flow_manager_pointer self, uint32_t proxy,
                      flow_policy policy);
/// A proxy's relay started: it gets that proxy's policy at once.
void add_relay(flow_manager_pointer self, kernel_relay_actor relay,
               uint32_t proxy);
/// True once every relay has taken the policies forwarded before (each
/// relay's own status request; a relay that does not answer in 2 s counts
/// as done). At once without relays (the engine's own path).
caf::result<bool> relays_in_force(flow_manager_pointer self);

/// Tells the flow-manager which reader returns its batches to (the two
/// are spawned in this order: flow-manager first).
void set_reader(const flow_manager_actor& fm, const divert_reader_actor& r);

} // namespace drover
