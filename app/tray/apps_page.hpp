#pragma once

// The Apps tab: the programs Drover sends through the proxy, as a user
// thinks of them. Each running target with its icon and its traffic now;
// the rules' programs that are not running, greyed out; and "Add an app",
// which picks a running program or a program file and adds a rule for it
// (written through the engine, as Settings does).

#include <cstdint>
#include <vector>

#include <QHash>
#include <QIcon>
#include <QLabel>
#include <QPushButton>
#include <QTreeWidget>
#include <QWidget>

#include "app/tray/wire.hpp"
#include "config/settings.hpp"

namespace drover::tray {

class apps_page : public QWidget {
  Q_OBJECT

public:
  explicit apps_page(QWidget* parent = nullptr);

  /// The running targets and their flows (from `status json`) and the
  /// rules in force: one row per program.
  void show_apps(const std::vector<target_row>& targets,
                 const std::vector<flow_row>& flows,
                 const config::settings& settings);

  /// A `proxy` rule for a program by its name ("Telegram.exe"), or for a
  /// program file by its full path: what "Add an app" writes.
  static config::app_rule rule_for_program(const QString& name);
  static config::app_rule rule_for_file(const QString& path);
  /// The user's running programs "Add an app" offers: by name, sorted,
  /// without the ones a rule already proxies.
  static QStringList running_programs(const config::settings& settings);

  /// Asks for a running program (a list) and adds it.
  void add_running();
  /// Asks for a program file and adds it.
  void add_file();

Q_SIGNALS:
  /// The user chose a program: a rule for it, to save.
  void add_requested(const config::app_rule& rule);
  /// The running targets changed (their names, sorted): for the log.
  void running_changed(const QStringList& names);

private:
  QIcon icon_of(uint32_t pid, const QString& name);

  QTreeWidget* list_;
  QPushButton* add_;
  QLabel* empty_;
  config::settings settings_;
  QHash<uint32_t, QIcon> icons_; // by process ID, looked up once
  QStringList running_;          // as last said
};

} // namespace drover::tray
