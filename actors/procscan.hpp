#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/platform/capture.hpp"
#include "messages/interfaces.hpp"

namespace drover {

struct procscan_state {
  static inline constexpr const char* name = "procscan";
  platform::capture_session* capture = nullptr; // lent by the supervisor
  std::vector<config::app_rule> rules;
  /// A process made a target (or blocked) already: a rule change that
  /// turns a target into a blocked one (or back) takes it over again, and
  /// so does another process under its ID (created at another time).
  struct adoption {
    config::rule_action action = config::rule_action::proxy;
    uint64_t created = 0; // process_entry::created
  };
  std::map<uint32_t, adoption> adopted; // by process ID
  process_set current;
  supervisor_actor parent;
};

/// Finds the processes the rules send through the proxy (or block) and
/// makes them targets of `capture` (lent by its owner, which outlives this
/// actor): a safety net, the capture itself judges a process at its first
/// socket. Tells `parent` which targets are running.
procscan_actor::behavior_type
procscan(procscan_actor::stateful_pointer<procscan_state> self,
         platform::capture_session* capture,
         std::vector<config::app_rule> rules, supervisor_actor parent);

} // namespace drover
