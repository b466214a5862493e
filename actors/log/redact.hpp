#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace drover::log {

/// The text that replaces a secret in logs and traces.
inline constexpr std::string_view redacted = "***";

/// Values that must never appear in a log or trace (the proxy login and
/// password). Thread-safe; the config loader updates it on every reload.
void set_secrets(std::vector<std::string> secrets);

/// Replaces every occurrence of a registered secret in `text`. Returns true
/// if anything was replaced.
bool redact_secrets(std::string& text);

/// True for field names that carry credentials ("password", "login", ...):
/// their values are redacted whatever they hold.
bool is_credential_field(std::string_view name);

} // namespace drover::log
