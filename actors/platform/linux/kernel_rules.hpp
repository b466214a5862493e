#pragma once

// The config's rules as the kernel program applies them (target_marker):
// names and patterns with the rules they belong to, and the `paths` and
// `folders` looked up to the identity the kernel compares (device and
// inode). A path that does not exist yet is left out and named, and looked
// up again (the guard's watchdog, every second), as is one that was
// replaced (an update installs a new file: a new inode).

#include <optional>
#include <string>
#include <vector>

#include "actors/platform/linux/target_marker.hpp"
#include "config/settings.hpp"

namespace drover::platform::linux_port {

/// `rules` as the kernel applies them. `missing` gets each path or folder
/// that cannot be looked up now.
/// `fallback`: a rule's programs while the proxy cannot be used when it
/// does not say. `proxy_names`: the proxies' names in order, which a
/// rule's `proxy` is looked up in (not found or empty: the first).
kernel_rules compile_rules(const std::vector<config::app_rule>& rules,
                           config::not_proxying fallback,
                           const std::vector<std::string>& proxy_names,
                           std::vector<std::string>& missing);

/// A file or folder's identity as the kernel program reads it (symlinks
/// followed), or nothing when it does not exist.
std::optional<file_identity> identify_file(const std::string& path);

} // namespace drover::platform::linux_port
