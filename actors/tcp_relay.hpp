#pragma once

// tcp-relay: the socks-session role for the connections the kernel
// redirects (Linux). One actor owns the relay (actors/platform/
// stream_relay.hpp), whose own threads do every stream's SOCKS5 CONNECT and
// move its bytes with splice(); the actor is what the rest of the engine
// talks to. Streams are reported to the flow-manager in batches and proxy
// failures to the supervisor; the flow-manager tells it the policy for new
// connections and which streams must end. Supervised like every part: if
// the relay cannot start, the actor quits with driver_lost.

#include <memory>

#include "actors/platform/stream_relay.hpp"
#include "actors/socks_session.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// Hands the relay's news on, from the relay's threads.
class relay_sink final : public platform::relay_events {
public:
  relay_sink(flow_manager_actor fm, caf::actor health)
      : fm_(std::move(fm)), health_(std::move(health)) {}
  void news(net::stream_news_batch&& batch) override;
  void proxy_failed(const std::string& why) override;

private:
  flow_manager_actor fm_;
  caf::actor health_;
};

struct tcp_relay_state {
  static inline constexpr const char* name = "tcp-relay";
  std::unique_ptr<relay_sink> sink;
  std::unique_ptr<platform::stream_relay> relay;

  tcp_relay_state() = default;
  tcp_relay_state(const tcp_relay_state&) = delete;
  tcp_relay_state& operator=(const tcp_relay_state&) = delete;
  /// The relay's threads are joined (and its streams reset) before the sink
  /// they report to goes.
  ~tcp_relay_state() { relay.reset(); }
};

/// Relays every connection `listener` (listening; taken) accepts through
/// `upstream`'s proxy. New connections are reset until the flow-manager
/// says the proxy may be used.
tcp_relay_actor::behavior_type
tcp_relay(tcp_relay_actor::stateful_pointer<tcp_relay_state> self,
          platform::socket_handle listener, upstream_settings upstream,
          flow_manager_actor fm);

} // namespace drover
