#pragma once

// The control socket's JSON lines (actors/control_server.hpp), read back
// into the engine's own types so the tray's view logic (view.hpp) works on
// the same values the engine publishes. Qt Core only; no widgets.

#include <optional>
#include <vector>

#include <QByteArray>
#include <QString>
#include <QStringList>

#include "messages/types.hpp"

namespace drover::tray {

/// One line of `follow json`: an event or a counters sample.
struct wire_line {
  std::optional<engine_event> event;
  std::optional<stats_snapshot> stats;
  uint64_t uptime_seconds = 0; // with stats: time in the current Active run
};

/// Parses one line; nullopt (and `error` set) for anything else.
std::optional<wire_line> parse_line(const QByteArray& line, QString* error);

/// A flow of `status json`, as the Flows tab shows it.
struct flow_row {
  QString process; // empty when unknown
  QString rule;    // the rule that made it a target; empty when unknown
  QString proxy;   // the proxy it goes through (several proxies); or empty
  uint32_t pid = 0;
  QString protocol; // "tcp" or "udp"
  QString destination;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t age_seconds = 0;
};

/// A target program running now (`status json`'s "targets").
struct target_row {
  uint32_t pid = 0;
  QString name;
  QString rule; // the rule that made it a target
};

/// `status json`: what the Status, Apps and Flows tabs show.
struct status_reply {
  engine_event last;
  stats_snapshot stats;
  std::vector<flow_row> flows;
  std::vector<target_row> targets;
  lifetime_totals lifetime; // every run's bytes (stats.json)
  /// With several proxies, one line each: "home (192.0.2.1:1080): up".
  QStringList proxies;
  QString config_path;
  QString log_path;
  bool trace = false;
};

std::optional<status_reply> parse_status(const QByteArray& json,
                                         QString* error);

} // namespace drover::tray
