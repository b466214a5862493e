#pragma once

// Shared by engine_machine.cpp and engine_machine_proxies.cpp: how a
// command is made.

#include <chrono>

#include "messages/engine_machine.hpp"

namespace drover::machine_detail {

inline engine_command command(command_kind kind) {
  engine_command c;
  c.kind = kind;
  return c;
}

inline engine_command after(command_kind kind,
                            std::chrono::milliseconds delay) {
  auto c = command(kind);
  c.delay = delay;
  return c;
}

} // namespace drover::machine_detail
