#pragma once

// The `fault WHAT` test hooks of the control socket, in test builds only
// (DROVER_FAULT_INJECTION): they make the engine's parts fail the ways the
// recovery table covers, so the end-to-end tests can watch it heal.

#include <string>
#include <vector>

#include <caf/send.hpp>

#include "actors/engine_parts.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// Whether this build answers `fault` commands: test builds only.
/// `drover --version` says so, and installs and packages refuse such a
/// build.
bool fault_hooks_built_in();

/// Test builds only: DROVER_TEST_QUEUE_TCP=1 in the engine's environment
/// makes it queue and rewrite TCP as on a kernel without NAT, so the tests
/// cover that path too. Always false in a product build.
bool tcp_queue_forced();

/// Test builds only: DROVER_TEST_QUEUE_UDP=1 does the same for UDP (as on a
/// kernel without TPROXY), DROVER_TEST_QUEUE_TCP=1 implies it.
bool udp_queue_forced();

/// Carries out `what` on the running parts; says what it did.
std::string inject_fault(const engine_parts& parts,
                         const std::vector<engine_listener_actor>& listeners,
                         engine_state state, const std::string& what);

} // namespace drover
