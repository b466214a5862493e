#include "messages/traffic_watch.hpp"

#include "messages/engine_machine.hpp"

namespace drover {

void traffic_watch::on_active(time_point now) {
  last_traffic_ = now;
  no_traffic_ = false;
}

std::string traffic_watch::on_heartbeat(bool active, uint64_t bytes,
                                        bool targets_running, time_point now,
                                        std::chrono::milliseconds quiet) {
  if (!active) {
    no_traffic_ = false;
    return {};
  }
  if (bytes != last_bytes_) {
    last_bytes_ = bytes;
    last_traffic_ = now;
    if (!no_traffic_)
      return {};
    no_traffic_ = false;
    return "traffic flows through the proxy again";
  }
  if (no_traffic_ || !targets_running || now - last_traffic_ < quiet)
    return {};
  no_traffic_ = true;
  return "Active (no traffic): nothing went through the proxy for "
         + duration_text(quiet)
         + " while a target program runs; if Discord does not connect, run "
           "`drover check`";
}

} // namespace drover
