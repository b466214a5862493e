#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/platform/capture.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// True if a running process named `process` is the target `target`.
/// Windows compares case-insensitively; Linux exactly, and a target's
/// ".exe" is optional there ("Discord.exe" also finds Linux's "Discord").
bool process_matches(const std::string& process, const std::string& target);

struct procscan_state {
  static inline constexpr const char* name = "procscan";
  platform::capture_session* capture = nullptr; // lent by the supervisor
  std::vector<std::string> targets;
  std::set<uint32_t> adopted; // PIDs made targets already
  process_set current;
  supervisor_actor parent;
};

/// Finds the target processes by name and makes them targets of
/// `capture` (lent by its owner, which outlives this actor); tells
/// `parent` which are running.
procscan_actor::behavior_type
procscan(procscan_actor::stateful_pointer<procscan_state> self,
         platform::capture_session* capture, std::vector<std::string> targets,
         supervisor_actor parent);

} // namespace drover
