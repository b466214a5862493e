#pragma once

// The proxy password never leaves the engine: `config get` shows a
// placeholder where it is, and a config that comes back with the
// placeholder keeps the stored password. Pure text functions.

#include <string>
#include <string_view>

namespace drover::config {

/// What `config get` shows instead of a stored password.
inline constexpr std::string_view password_placeholder = "<stored password>";

/// `text` with the value of `proxy.password` (a non-empty string) replaced
/// by the placeholder. A file that does not parse has every line that sets
/// a `password` replaced the same way: never the password, whatever the
/// file looks like.
std::string hide_password(std::string_view text);

/// `incoming` with a `proxy.password` that is the placeholder replaced by
/// `stored` (written as a TOML string); otherwise unchanged.
std::string keep_password(std::string_view incoming, const std::string& stored);

} // namespace drover::config
