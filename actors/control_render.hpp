#pragma once

// What the control socket says: the engine's status, events and counters
// as text for people or as JSON with stable field names (the tray and
// scripts read it).

#include <string>
#include <vector>

#include "messages/types.hpp"

namespace drover {

/// One event as a line of text, or as a JSON object with "type":"event".
std::string render_event(const engine_event& e, bool json);

/// The counters as a JSON object with "type":"stats".
std::string render_stats(const stats_snapshot& s);

/// The status as text for people, or as JSON (stable field names).
std::string render_status(const engine_status& s,
                          const std::vector<flow_descriptor>& flows, bool json,
                          const std::string& config_path = {});

} // namespace drover
