#pragma once

#include <string>

#include <caf/io/broker.hpp>

#include "messages/interfaces.hpp"

namespace drover {

/// Serves `drover status` on the local control socket `fd` (already
/// listening, owner-only): a client sends "status" or "status json" and a
/// newline, gets the answer, and the connection closes. Removes the socket
/// file at `path` when it stops.
caf::behavior control_server(caf::io::broker* self, int fd,
                             supervisor_actor sup, std::string path);

/// The status as text for people, or as JSON (stable field names).
std::string render_status(const engine_status& s,
                          const std::vector<flow_descriptor>& flows, bool json);

} // namespace drover
