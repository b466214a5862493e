#include "actors/fault_hooks.hpp"

#include <algorithm>
#include <cstdlib>

namespace drover {

bool fault_hooks_built_in() {
#ifdef DROVER_FAULT_INJECTION
  return true;
#else
  return false;
#endif
}

bool tcp_queue_forced() {
#ifdef DROVER_FAULT_INJECTION
  const char* v = std::getenv("DROVER_TEST_QUEUE_TCP");
  return v != nullptr && std::string{v} == "1";
#else
  return false;
#endif
}

bool udp_queue_forced() {
#ifdef DROVER_FAULT_INJECTION
  const char* v = std::getenv("DROVER_TEST_QUEUE_UDP");
  return tcp_queue_forced() || (v != nullptr && std::string{v} == "1");
#else
  return false;
#endif
}

std::string inject_fault(const engine_parts& parts,
                         const std::vector<engine_listener_actor>& listeners,
                         engine_state state, const std::string& what) {
#ifdef DROVER_FAULT_INJECTION
  if (what == "panic" && parts.flow_manager) {
    caf::anon_send(parts.flow_manager, atom::fault_v);
    return "the flow-manager throws";
  }
  if (what.rfind("stall ", 0) == 0 && parts.flow_manager) {
    // The flow-manager falls behind: the reader's batches run out and the
    // kernel's queue fills (at most 10 s).
    auto ms = std::min<unsigned long>(
        std::strtoul(what.c_str() + 6, nullptr, 10), 10000);
    caf::anon_send(parts.flow_manager, atom::fault_v,
                   static_cast<uint32_t>(ms));
    return "the flow-manager stalls for " + std::to_string(ms) + " ms";
  }
  if (what == "kill-procscan" && parts.scanner) {
    // An exit no failure class describes: "anything unclassified".
    caf::anon_send_exit(parts.scanner, caf::exit_reason::kill);
    return "procscan is killed";
  }
  if (what == "driver-lost" && parts.reader) {
    caf::anon_send(parts.reader, atom::internal_v,
                   std::string{"injected fault: the packet handle failed"});
    return "the packet handle fails";
  }
  if (what.rfind("flood ", 0) == 0) {
    // N events to the listeners alone (not logged): a follower that does
    // not read them must not make the engine hold them all.
    auto n = std::min<unsigned long>(
        std::strtoul(what.c_str() + 6, nullptr, 10), 100000);
    engine_event e;
    e.kind = event_kind::info;
    e.state = state;
    e.time = caf::make_timestamp();
    for (unsigned long i = 0; i < n; ++i) {
      e.reason = "injected event " + std::to_string(i + 1) + " of "
                 + std::to_string(n);
      for (auto& l : listeners)
        caf::anon_send(l, e);
    }
    return "sent " + std::to_string(n) + " events";
  }
  return "nothing done: unknown fault \"" + what
         + "\", or the engine does not run";
#else
  (void)parts;
  (void)listeners;
  (void)state;
  (void)what;
  return "fault injection is not built in";
#endif
}

} // namespace drover
