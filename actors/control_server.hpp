#pragma once

#include <string>

#include <caf/io/broker.hpp>

#include "actors/platform/sockets.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// Where the control server's files are.
struct control_paths {
  std::string socket; // removed when the server stops
  std::string config; // the config file the engine watches
};

/// Serves the local control socket `fd` (already listening; its mode says
/// who may connect). A client sends one command and a newline:
///   status | status json       the answer, then the connection closes
///   start | stop | retry       "ok", then it closes
///   quit                       "ok"; the engine stops and the process exits
///   trace on | trace off       "ok": the actor trace log on or off
///   follow | follow json       the recent events, then every event (and,
///                              as JSON, the counters each second) as one
///                              line each, until the client closes
///   config get                 the config file's text
///   config set N               then N bytes of config text: validated and
///                              written atomically (the watcher applies it);
///                              "ok", or "error" and one diagnostic per line
///   fault WHAT                 test hook (fault-injection builds)
caf::behavior control_server(caf::io::broker* self, platform::socket_handle fd,
                             supervisor_actor sup, control_paths paths);

} // namespace drover
