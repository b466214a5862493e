#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace drover::platform {

enum class file_access {
  normal,
  owner_only, // mode 0600 on Linux: the file holds a proxy password
};

/// Whose rights a file operation uses. The engine runs as root
/// (administrator); started for a user (sudo, pkexec) it reads and writes
/// that user's files (the config, which the user may edit) with that
/// user's rights only, so a symlink or a file planted in the user's folder
/// cannot make it touch anything the user could not. A path that only root
/// can change (every folder on the way root's and not writable by others,
/// no symlink: /etc/drover) is used with the engine's own rights.
enum class on_behalf {
  engine,       // the engine's own files: logs, crash reports
  invoking_user // files the user controls: the config
};

/// Replaces `path` with `content` so that a reader (or a crash at any point)
/// sees either the old file or the new one, never a part: writes a new
/// temporary file (a random name, never an existing file or link) beside
/// it, flushes it to disk, then renames it over `path`. Temporaries a killed
/// write left are removed. `before_commit` runs between the flush and the
/// rename (tests use it to kill the process midway). Creates missing parent
/// folders.
std::error_code
write_file_atomically(const std::filesystem::path& path,
                      std::string_view content, file_access access,
                      on_behalf who = on_behalf::engine,
                      const std::function<void()>& before_commit = {});

/// The whole of a regular file of at most `limit` bytes, read without
/// following a symlink at its last step; nothing, with `error` saying why
/// (for the user: "not a regular file", "larger than 256 KiB", ...).
std::optional<std::string> read_file(const std::filesystem::path& path,
                                     size_t limit, on_behalf who,
                                     std::string& error);

/// Whether `path`'s folder holds temporaries of a write that was killed
/// (tests).
bool has_leftover_temporaries(const std::filesystem::path& path);

/// Where the config lives when no --config is given:
/// Windows %APPDATA%\Drover\config.toml; Linux $XDG_CONFIG_HOME/drover/
/// config.toml (~/.config when unset), or /etc/drover/config.toml for a
/// system service (root, started by systemd).
std::filesystem::path default_config_path();

/// Where logs, the trace log and crash reports go:
/// Windows %PROGRAMDATA%\Drover\logs; Linux $XDG_STATE_HOME/drover/logs
/// (~/.local/state when unset), or /var/log/drover for a system service.
std::filesystem::path default_log_dir();

/// Where the engine keeps what it must remember between runs (stats.json):
/// Windows %PROGRAMDATA%\Drover (the engine's own folder, which
/// secure_engine_folders guards); Linux $XDG_STATE_HOME/drover
/// (~/.local/state when unset), or /var/lib/drover for a system service.
std::filesystem::path default_state_dir();

/// Makes the engine's own folders its own before anything is written there.
/// Windows: %PROGRAMDATA%\Drover and its logs folder, where any user may
/// create a folder (or a junction pointing anywhere) before the elevated
/// engine first runs: a link there is refused (nothing is written through
/// it), a folder that belongs to someone other than an administrator is
/// moved aside (named in `moved`) and a fresh one made, and both get an
/// access list of SYSTEM and administrators only. Returns what stops that,
/// in words for the user. Linux: nothing to do (root's
/// /var/log/drover, or the user's own folder).
std::optional<std::string>
secure_engine_folders(std::vector<std::string>& moved);

/// Whether a folder whose owner is `owner_sid` may hold the elevated
/// engine's files: SYSTEM, Administrators, TrustedInstaller, or the
/// engine's own (administrator) account. Pure, for the tests.
bool trusted_folder_owner(std::string_view owner_sid,
                          std::string_view engine_user_sid);

/// This program's own executable, absolute.
std::filesystem::path current_executable();

/// A folder private to this user for the tray's single-instance lock and
/// socket (and a user engine's control socket): Linux
/// $XDG_RUNTIME_DIR/drover, else /tmp/drover-UID, created 0700 and used
/// only when it is a real folder of this user's (else a fresh
/// /tmp/drover-UID-XXXXXX); Windows %LOCALAPPDATA%\Drover.
std::filesystem::path user_runtime_dir();

/// `dir` as a folder of this user's alone: created (0700) when missing,
/// narrowed to 0700 when it is ours, nothing when it is a link, not a
/// folder, or someone else's.
std::optional<std::filesystem::path>
private_dir(const std::filesystem::path& dir);

} // namespace drover::platform
