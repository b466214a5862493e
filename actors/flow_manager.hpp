#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "actors/platform/capture.hpp"
#include "messages/interfaces.hpp"
#include "net/flow_table.hpp"

namespace drover {

struct flow_manager_config {
  net::listener_address listener;
  net::flow_table::options table;
  std::chrono::milliseconds sweep_interval{2000};
};

struct flow_manager_state {
  static inline constexpr const char* name = "flow-manager";

  std::shared_ptr<platform::capture_session> capture;
  net::listener_address listener;
  std::unique_ptr<net::flow_table> table;
  std::vector<platform::verdict> verdicts; // reused for every batch
  stats_snapshot stats;
  divert_reader_actor reader; // where processed batches go back

  /// Decides every packet of a batch and sends the verdicts (one system
  /// call). Runs on the packet path: no allocation, no blocking.
  void process(packet_batch_buffer& batch, net::flow_time now);

  /// Decides one packet; rewrites it in place when it is redirected.
  platform::verdict_kind decide(uint8_t* data, const captured_packet& pkt,
                                net::flow_time now);

  flow_descriptor describe(const net::flow_entry& e) const;
};

flow_manager_actor::behavior_type
flow_manager(flow_manager_actor::stateful_pointer<flow_manager_state> self,
             std::shared_ptr<platform::capture_session> capture,
             flow_manager_config cfg);

/// Tells the flow-manager which reader returns its batches to (the two
/// are spawned in this order: flow-manager first).
void set_reader(const flow_manager_actor& fm, const divert_reader_actor& r);

} // namespace drover
