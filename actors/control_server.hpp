#pragma once

#include <string>

#include <caf/io/broker.hpp>

#include "messages/interfaces.hpp"

namespace drover {

/// Serves the local control socket `fd` (already listening, owner-only).
/// A client sends one command and a newline:
///   status | status json       the answer, then the connection closes
///   start | stop | retry       "ok", then it closes
///   follow | follow json       the recent events, then every event (and,
///                              as JSON, the counters each second) as one
///                              line each, until the client closes
///   fault WHAT                 test hook (fault-injection builds)
/// Removes the socket file at `path` when it stops.
caf::behavior control_server(caf::io::broker* self, int fd,
                             supervisor_actor sup, std::string path);

/// One event as a line of text, or as a JSON object with "type":"event".
std::string render_event(const engine_event& e, bool json);

/// The counters as a JSON object with "type":"stats".
std::string render_stats(const stats_snapshot& s);

/// The status as text for people, or as JSON (stable field names).
std::string render_status(const engine_status& s,
                          const std::vector<flow_descriptor>& flows, bool json);

} // namespace drover
