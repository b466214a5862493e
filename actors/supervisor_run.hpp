#pragma once

// The supervisor's `drover run` side: a program started as a target of the
// running session, or a caller's process put in place (beside a running
// engine), each once the policy in force has reached the flow-manager and
// the relay. Internal to the supervisor (actors/supervisor.cpp).

#include <cstdint>
#include <string>
#include <vector>

#include "actors/supervisor.hpp"

namespace drover {

using supervisor_self = supervisor_actor::stateful_pointer<supervisor_state>;

/// `drover run [--proxy NAME] -- argv` with the engine it started: argv's
/// process ID. `proxy`: the proxy's name ("": the first).
caf::result<int64_t> start_program(supervisor_self self,
                                   std::vector<std::string> argv,
                                   const std::string& proxy);

/// `run PID [NAME]` on the control socket: `pid` (the caller `caller`'s
/// own process or its child, as user `user`) becomes a target, through
/// the proxy `proxy` ("": the first); a note for the caller, or why not.
caf::result<std::string> join_program(supervisor_self self, uint32_t pid,
                                      uint32_t caller, uint32_t user,
                                      const std::string& proxy);

} // namespace drover
