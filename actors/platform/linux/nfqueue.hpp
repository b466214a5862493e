#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "actors/platform/packet_port.hpp"

namespace drover::platform::linux_port {

struct queue_marks {
  uint32_t target = 0; // a queued packet with it was sent by a target
  uint32_t pass = 0;   // what verdict_kind::pass puts on a packet
  uint32_t block = 0;  // ... by a process a `block` rule matches
};

/// Binds NFQUEUE `queue` (copy-packet mode, NFQA_CFG_F_GSO so 64 KiB
/// segments arrive whole). On failure returns nullptr and sets `error` to
/// a sentence for the user.
std::unique_ptr<packet_port> open_nfqueue(uint16_t queue, queue_marks marks,
                                          std::string& error);

/// A raw IPv4 socket (IP_HDRINCL) whose packets carry `mark`, so the rule
/// set can recognise them and leave them alone.
std::unique_ptr<packet_injector> open_raw_injector(uint32_t mark,
                                                   std::string& error);

} // namespace drover::platform::linux_port
