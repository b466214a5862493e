#pragma once

// The control socket's requests, as the engine reads them: one command
// line, and for `config set N` N bytes of config text after it. Whatever a
// client sends is hostile until read here (the engine is privileged; its
// socket admits the user and the group "drover"). Pure code, fuzzed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace drover::net::control {

enum class command_kind : uint8_t {
  status,
  status_json,
  follow,
  follow_json,
  start,
  stop,
  retry,
  quit,
  trace_on,
  trace_off,
  config_get,
  config_set,
  fault,
  run,   // `run PID [NAME]`: put PID (the caller, or its child) in place as a
         // target, through the proxy NAME (else the first)
  check, // `check [NAME]`: check each proxy, or the one named (JSON)
  unknown,
};

/// A follower (`follow`, `follow json`) hears from the engine at least
/// this often: a heartbeat line when nothing else happened, so a client
/// can tell a quiet engine (it idles between events for hours) from a
/// stuck one. Clients drop the line; the CLI gives up after three missed.
constexpr int follow_heartbeat_seconds = 10;
constexpr std::string_view follow_heartbeat_text = "heartbeat";
constexpr std::string_view follow_heartbeat_json = R"({"type":"heartbeat"})";

/// Whether one line of a follow stream (without its newline) is a
/// heartbeat.
inline bool is_follow_heartbeat(std::string_view line) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line == follow_heartbeat_text || line == follow_heartbeat_json;
}

/// The longest command line (without its newline).
constexpr size_t max_command_line = 200;

/// What the bytes received so far on a connection make of a request.
struct request {
  enum class state : uint8_t {
    need_more, // no whole line yet, or config set's text is still coming
    complete,  // kind, argument and body are set
    refused,   // answer with `error` (or just close when it is empty)
  };
  state result = state::need_more;
  // Known as soon as the line is whole (even while the body is still
  // coming): the caller's rights are checked on it before more is read.
  bool line_complete = false;
  command_kind kind = command_kind::unknown;
  std::string argument; // fault WHAT, check NAME, run PID NAME; an unknown
                        // command's text; printable
  uint32_t pid = 0;     // run PID (1..2^31-1; which process is checked later)
  std::string body;     // config set's text
  std::string error;    // for refused: the answer's text
};

/// Reads a request from `received` (all bytes so far). `max_body` bounds
/// config set's N.
request read_request(std::string_view received, size_t max_body);

/// Whether the command changes the engine's settings or life (config set,
/// quit, trace, fault): only root and the engine's own user may.
bool changes_things(command_kind kind);

/// `text` cut to `max` bytes with every byte that is not printable ASCII
/// shown as '?': fit for a log line or an answer.
std::string printable(std::string_view text, size_t max);

} // namespace drover::net::control
