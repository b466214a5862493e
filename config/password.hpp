#pragma once

// The proxy password never leaves the engine: `config get` shows a
// placeholder where it is, and a config that comes back with the
// placeholder keeps the stored password. Pure text functions.

#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"

namespace drover::config {

/// What `config get` shows instead of a stored password.
inline constexpr std::string_view password_placeholder = "<stored password>";

/// `text` with the value of every proxy's `password` (`[proxy]`, each
/// `[[proxy]]`; a non-empty string) replaced by the placeholder. A file that
/// does not parse has every line that sets a `password` replaced the same way:
/// never the password, whatever the file looks like.
std::string hide_password(std::string_view text);

/// `incoming` with each proxy `password` that is the placeholder replaced by
/// the stored password of the proxy with the same name (unnamed: at the
/// same place), written as a TOML string. A placeholder no stored proxy
/// matches stays (and fails as a login would: it is not a password).
std::string keep_password(std::string_view incoming,
                          const std::vector<proxy_settings>& stored);

} // namespace drover::config
