#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>

#include <spdlog/logger.h>

#include "config/settings.hpp"

namespace drover::log {

struct log_options {
  std::filesystem::path dir;              // the log file is dir/drover.log
  std::size_t max_file_bytes = 10u << 20; // ui.log_max_mb
  std::size_t backups = 3;                // ui.log_backups: drover.1.log ...
  config::log_level level = config::log_level::info;
  bool console = false; // also to stderr (headless mode, CLI)
};

/// Sets up the engine log: a rotating file, optionally the console, secrets
/// redacted. Safe to call again (for example after the log settings change).
void init(const log_options& opts);

/// The logger for a component; its lines carry the component's name, e.g.
/// "[flow-manager]". Actors use their CAF name.
std::shared_ptr<spdlog::logger> get(std::string_view component);

/// The log file's size and how many rotated files are kept (ui.log_max_mb,
/// ui.log_backups), applied to the log init() set up: a saved config's
/// new limits take effect at once.
void set_limits(std::size_t max_file_bytes, std::size_t backups);

/// Changes the level of every logger, now and for loggers made later.
void set_level(config::log_level level);

/// Writes buffered lines to disk.
void flush();

/// Flushes and closes everything; call before the actor system goes away.
void shutdown();

/// The current log file, empty before init().
std::filesystem::path log_file();

spdlog::level::level_enum to_spdlog(config::log_level level);

} // namespace drover::log
