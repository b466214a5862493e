#pragma once

// What `drover check` prints: the steps of a proxy check with their
// latencies and, for a user, what the outcome means. Pure formatting.

#include <string>

#include "actors/proxy_probe.hpp"

namespace drover::cli {

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

} // namespace drover::cli
