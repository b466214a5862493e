#pragma once

// What `drover check` (and the tray's Check, which the engine runs: only
// it has the proxies' passwords) does: each proxy, or one by name, probed
// step by step (actors/proxy_probe.hpp); the steps with their latencies
// and, for a user, what the outcome means.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "actors/proxy_probe.hpp"
#include "config/settings.hpp"

namespace drover {

/// One sentence on what the result means for Discord.
std::string check_summary(const probe_result& r);

/// A table for a terminal: one line per step ("ok"/"FAIL", name, time),
/// the detail under it, then the summary.
std::string check_text(const probe_result& r, const std::string& proxy);

/// The same as one JSON object: {"proxy", "name" (when the proxy has one),
/// "ok", "summary", "steps": [{"name", "ok", "ms", "detail"}]}; stable
/// field names.
std::string check_json(const probe_result& r, const std::string& proxy,
                       const std::string& name = {});

/// What to check: where through the proxy, how long each part may take,
/// and which proxy (by name; empty: each in turn).
struct check_options {
  config::host_port tcp_target;
  config::host_port udp_target;
  std::chrono::milliseconds budget{5000};
  std::string proxy;
};

struct check_outcome {
  bool known = true;   // false: no proxy has the name asked for (`error`)
  bool all_ok = false; // every step of every proxy checked passed
  std::string text;    // check_text for each, under its name with several
  std::string json;    // one object, or an array with several
  std::string error;   // a sentence for a user
};

using check_resolver = std::function<std::optional<net::ipv4_address>(
    const std::string& host, std::string& error)>;
using check_prober = std::function<probe_result(const probe_request&)>;

/// Checks the proxies of `s` as `o` says (blocking: names are looked up,
/// connections made).
check_outcome run_checks(const config::settings& s, const check_options& o,
                         const check_resolver& resolve,
                         const check_prober& probe);

} // namespace drover
