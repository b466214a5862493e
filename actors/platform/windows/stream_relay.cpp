#include "actors/platform/stream_relay.hpp"

namespace drover::platform {

// Windows has no kernel redirect of its own: WinDivert's packets are
// rewritten to the listener by the flow-manager, and each connection gets
// a socks-session broker (capture_session::redirects_tcp() is false).
std::unique_ptr<stream_relay> start_stream_relay(socket_handle listener,
                                                 socket_handle intake,
                                                 relay_options, relay_events&,
                                                 std::string& error) {
  (void)listener;
  (void)intake;
  error = "no kernel-redirected TCP relay on Windows";
  return nullptr;
}

} // namespace drover::platform
