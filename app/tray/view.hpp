#pragma once

// What the tray shows for an engine status: the icon, the tooltip and the
// menu's contextual items. Pure (no Qt, no CAF calls), so every state is
// unit-tested; the Qt tray only draws what this decides.

#include <chrono>
#include <cstdint>
#include <string>

#include "config/settings.hpp"
#include "messages/types.hpp"

namespace drover::tray {

/// The four tray icons (seed D1).
enum class icon : uint8_t {
  idle,    // grey: nothing captured (Idle, Paused)
  active,  // green: proxying, traffic flowing
  warning, // yellow: Starting, Reconnecting, Active without traffic, or
           // Active through a proxy that does not relay UDP (no voice)
  failed,  // red: Failed
};

const char* to_string(icon x);

icon icon_for(const engine_event& last, const stats_snapshot& stats);

/// Bytes per second, both ways, from two counter samples.
struct rates {
  double in = 0;  // proxy -> applications
  double out = 0; // applications -> proxy
};

rates rates_between(const stats_snapshot& earlier, const stats_snapshot& later,
                    std::chrono::milliseconds elapsed);

/// "0 B/s", "950 B/s", "142 KB/s", "1.2 MB/s" (1 KB = 1000 B, as network
/// speeds are counted).
std::string rate_text(double bytes_per_second);

/// (Byte counts: drover::bytes_text, shared with `drover status`.)

/// "45s", "12m", "2h 14m", "3d 4h".
std::string uptime_text(std::chrono::seconds up);

/// The state's name for a user: "Active", "Reconnecting (attempt 3)", ...
std::string state_text(const engine_event& last, const stats_snapshot& stats);

/// The tooltip: the state and its reason, at most 127 characters (the
/// Windows limit), cut at a word with an ellipsis.
std::string tooltip(const engine_event& last, const stats_snapshot& stats);

/// The disabled first row of the menu: "Active · 2h 14m · ↑ 142 KB/s ↓
/// 1.2 MB/s" while running, the state alone otherwise.
std::string status_row(const engine_event& last, const stats_snapshot& stats,
                       std::chrono::seconds uptime, const rates& r);

/// The menu's primary, contextual action.
enum class primary_action : uint8_t { start, stop, retry };

struct primary_item {
  primary_action action = primary_action::start;
  std::string label;
};

primary_item primary_for(engine_state state);

/// The window's state badge: the tray icon's colour ("#2e7d32") and the
/// colour of the text on it.
struct badge_colours {
  const char* background;
  const char* text;
};
badge_colours badge_for(icon x);

/// What the window's headline speaks of: the programs the rules proxy, by
/// their rules' names ("Discord", "Discord and Firefox", "Discord and 2
/// more programs"), and where their traffic goes ("192.0.2.1:1080", "2
/// proxies"); whether their new connections go direct while the proxy
/// cannot be used.
struct headline_subject {
  std::string programs = "your programs";
  bool one_program = false; // "Discord's traffic" rather than "the traffic
                            // of ..."
  std::string proxy;
  bool direct_while_down = false;
};
headline_subject subject_of(const config::settings& s);

/// The one sentence under the badge: what is happening, for a user who is
/// not a network engineer ("Discord's traffic goes through
/// 192.0.2.1:1080.").
std::string headline(const engine_event& last, const stats_snapshot& stats,
                     const headline_subject& who);

/// What the window offers under the headline when something is wrong (the
/// primary action, Start/Stop/Retry, sits beside them).
struct remedies {
  bool open_settings = false; // the proxy's address or login may be wrong
  bool run_check = false;     // the check says which step fails
};
remedies remedies_for(const engine_event& last, const stats_snapshot& stats);

} // namespace drover::tray
