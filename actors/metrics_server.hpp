#pragma once

// The metrics endpoint (seed 003, `[metrics] listen`): a Prometheus text
// endpoint on loopback. An engine service beside the control server: it
// asks the supervisor for the status at each scrape and answers
// `GET /metrics`; any other request gets the status that says why. Off
// while no address is set; a new address from the config moves it
// (`atom::update` with "host:port", or "" for off).

#include <optional>

#include <caf/io/broker.hpp>

#include "config/settings.hpp"
#include "messages/interfaces.hpp"

namespace drover {

caf::behavior metrics_server(caf::io::broker* self, supervisor_actor sup,
                             std::optional<config::host_port> listen);

} // namespace drover
