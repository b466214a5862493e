#pragma once

// The engine's error codes, carried in caf::error (category "drover") and in
// an actor's exit reason, so the supervisor can classify why a child died.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/message.hpp> // CAF_ERROR_CODE_ENUM needs it complete

namespace drover {

enum class ec : uint8_t {
  none = 0,
  /// Something no other code describes; classified as fatal.
  unspecified,
  /// The config file is broken; the last good config stays in force.
  config_invalid,
  /// The config file exists but cannot be read.
  config_unreadable,
  /// The packet handle failed while running (WinDivert handle, NFQUEUE).
  driver_lost,
  /// The packet driver is missing or cannot be loaded (reinstall).
  driver_gone,
  /// Security software blocked the driver (Windows 577, 1275).
  driver_blocked,
  /// An older WinDivert from another tool is loaded (Windows 654).
  driver_outdated,
  /// Not administrator / missing CAP_NET_ADMIN or CAP_NET_RAW.
  not_permitted,
  /// The proxy does not answer (refused, timed out, unresolvable).
  proxy_unreachable,
  /// The proxy rejected the user name or password.
  proxy_auth_rejected,
  /// The proxy broke the SOCKS5 protocol or refused a request.
  proxy_protocol,
  /// An exception escaped an actor.
  panic,
  /// The system is going to sleep.
  system_sleep,
  /// The system woke up.
  system_resume,
};

std::string to_string(ec x);

} // namespace drover

CAF_ERROR_CODE_ENUM(drover::ec, "drover")
