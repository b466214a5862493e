#pragma once

// The metrics endpoint's body (Prometheus text format 0.0.4): the engine's
// state, its reconnects and restarts, flows, lifetime bytes, dropped and
// overflowed packets, and each proxy's health (docs/config.md lists them).

#include <string>

#include "messages/types.hpp"

namespace drover {

std::string render_metrics(const engine_status& s);

} // namespace drover
