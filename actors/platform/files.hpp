#pragma once

#include <filesystem>
#include <functional>
#include <string_view>
#include <system_error>

namespace drover::platform {

enum class file_access {
  normal,
  owner_only, // mode 0600 on Linux: the file holds a proxy password
};

/// Replaces `path` with `content` so that a reader (or a crash at any point)
/// sees either the old file or the new one, never a part: writes a temporary
/// file beside it, flushes it to disk, then renames it over `path`.
/// `before_commit` runs between the flush and the rename (tests use it to
/// kill the process midway). Creates missing parent folders.
std::error_code
write_file_atomically(const std::filesystem::path& path,
                      std::string_view content, file_access access,
                      const std::function<void()>& before_commit = {});

/// The temporary file write_file_atomically uses for `path`.
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

/// Where the config lives when no --config is given:
/// Windows %APPDATA%\Drover\config.toml; Linux $XDG_CONFIG_HOME/drover/
/// config.toml (~/.config when unset), or /etc/drover/config.toml for a
/// system service (root, started by systemd).
std::filesystem::path default_config_path();

/// Where logs, the trace log and crash reports go:
/// Windows %PROGRAMDATA%\Drover\logs; Linux $XDG_STATE_HOME/drover/logs
/// (~/.local/state when unset), or /var/log/drover for a system service.
std::filesystem::path default_log_dir();

/// This program's own executable, absolute.
std::filesystem::path current_executable();

/// A folder private to this user for the tray's single-instance lock and
/// socket: Linux $XDG_RUNTIME_DIR/drover (else /tmp/drover-UID, 0700),
/// Windows %LOCALAPPDATA%\Drover.
std::filesystem::path user_runtime_dir();

} // namespace drover::platform
