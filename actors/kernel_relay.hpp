#pragma once

// kernel-relay: the socks-session role for what the kernel hands Drover
// itself (Linux): redirected TCP connections and TPROXY'd UDP datagrams.
// One actor owns the relay (actors/platform/stream_relay.hpp), whose own
// threads do every stream's SOCKS5 CONNECT and move its bytes with
// splice(), and every application socket's UDP association; the actor is
// what the rest of the engine talks to. Streams and UDP flows are reported
// to the flow-manager in batches and proxy failures to the supervisor; the
// flow-manager tells it the policy for new connections and datagrams and
// which flows must end. Supervised like every part: if the relay cannot
// start, the actor quits with driver_lost.

#include <memory>
#include <optional>

#include "actors/platform/stream_relay.hpp"
#include "actors/socks_session.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// Hands the relay's news on, from the relay's threads.
class relay_sink final : public platform::relay_events {
public:
  relay_sink(flow_manager_actor fm, caf::actor health, uint32_t proxy)
      : fm_(std::move(fm)), health_(std::move(health)), proxy_(proxy) {}
  void news(net::stream_news_batch&& batch) override;
  void proxy_failed(const std::string& why) override;

private:
  flow_manager_actor fm_;
  caf::actor health_;
  uint32_t proxy_; // which proxy's relay
};

struct kernel_relay_state {
  static inline constexpr const char* name = "kernel-relay";
  std::unique_ptr<relay_sink> sink;
  std::unique_ptr<platform::stream_relay> relay;
  std::optional<bool> pipelining; // what the last check said

  kernel_relay_state() = default;
  kernel_relay_state(const kernel_relay_state&) = delete;
  kernel_relay_state& operator=(const kernel_relay_state&) = delete;
  /// The relay's threads are joined (and its streams reset) before the sink
  /// they report to goes.
  ~kernel_relay_state() { relay.reset(); }
};

/// Relays every connection `listener` (listening; taken) accepts, and
/// every datagram `intake` (taken; invalid_socket: UDP is queued instead)
/// receives, through `upstream`'s proxy. New connections are refused and
/// datagrams dropped until the flow-manager says the proxy may be used.
kernel_relay_actor::behavior_type
kernel_relay(kernel_relay_actor::stateful_pointer<kernel_relay_state> self,
             platform::socket_handle listener, platform::socket_handle intake,
             upstream_settings upstream, flow_manager_actor fm);

} // namespace drover
