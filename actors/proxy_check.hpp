#pragma once

// The supervisor's proxy check: the proxy probed at its known address, and
// its name looked up again when that fails (or no address is known yet),
// turned into a proxy_check message with the recovery class of what went
// wrong. Blocking (name lookup, connect): the supervisor runs it on a thread
// of its own. The probe and the lookup are passed in, so the decision is
// tested without a network.

#include <functional>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/proxy_probe.hpp"
#include "config/settings.hpp"
#include "messages/types.hpp"

namespace drover {

using proxy_prober = std::function<probe_result(const probe_request&)>;
using name_resolver = std::function<std::optional<net::ipv4_address>(
    const std::string& host, std::string& error)>;

/// What the supervisor's check asks of the proxy at `at`: the handshake
/// with `proxy`'s login and UDP ASSOCIATE, within 2 s.
probe_request proxy_check_request(const config::proxy_settings& proxy,
                                  net::endpoint at);

/// A probe's verdict as the supervisor's recovery class.
proxy_check to_proxy_check(const probe_result& r);

/// Checks the proxy at `request.proxy` (its address; 0.0.0.0 when unknown).
/// When that fails, or no address is known, `host` is looked up again: a
/// new address comes back in proxy_ip (the supervisor restarts onto it). A
/// name with several addresses does not make it hop while the one in use
/// works.
proxy_check run_proxy_check(const proxy_prober& probe,
                            const name_resolver& resolve,
                            const probe_request& request,
                            const std::string& host);

/// Runs run_proxy_check() on a thread of its own (`own_thread`; inline in
/// the deterministic tests) and sends the result to `reply_to`.
void start_proxy_check(caf::actor_system& sys, const proxy_prober& probe,
                       const name_resolver& resolve,
                       const probe_request& request, const std::string& host,
                       const caf::actor& reply_to, bool own_thread,
                       uint32_t proxy = 0);

} // namespace drover
