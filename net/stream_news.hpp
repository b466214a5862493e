#pragma once

// What the relay tells the flow-manager about its TCP streams and UDP flows:
// plain data, batched (one message per relay loop that had news, not one per
// stream event), so that thousands of new connections a second cost few
// messages.

#include <cstdint>
#include <vector>

#include "net/packet.hpp"

namespace drover::net {

struct stream_news {
  enum class kind : uint8_t {
    opened,         // accepted and on its way to the proxy
    opened_direct,  // accepted and let out direct (when_not_proxying)
    progress,       // bytes moved so far (`in`, `out`)
    ended,          // closed; `in`/`out` are the final counts
    declined,       // accepted while the proxy cannot be used: reset
    not_redirected, // a local program connected to the listener itself
    dropped,        // datagrams dropped since the last report (`out`)
  };
  static constexpr uint8_t tcp = 6, udp = 17;
  kind what = kind::opened;
  uint8_t protocol = tcp;
  uint64_t id = 0;  // the relay's, unique while the relay runs
  endpoint app;     // the application's socket
  endpoint remote;  // where it wanted to go
  uint64_t in = 0;  // bytes towards the application
  uint64_t out = 0; // bytes from the application
};

using stream_news_batch = std::vector<stream_news>;

} // namespace drover::net
