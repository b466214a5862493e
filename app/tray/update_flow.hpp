#pragma once

// The tray's side of updates (docs/updates.md): "Check for updates…" in
// the menu and, when `[update] check_on_startup` is on, a check a little
// after start. A newer release is offered in the menu and in a message.
// Linux: the menu item opens the release's page (the .deb is there).
// Windows: the item downloads and checks the installer (updater), then the
// tray hands over to the helper (app/finish_update.hpp) and quits, its
// engine stopped cleanly; the helper installs silently and starts Drover
// again, which says what became of the update.

#include <functional>
#include <optional>

#include <QAction>
#include <QMenu>
#include <QObject>
#include <QString>
#include <QSystemTrayIcon>

#include "app/tray/updater.hpp"

namespace drover::tray {

struct update_hooks {
  /// A message for the user (tray balloon) and the log.
  std::function<void(const QString& text, QSystemTrayIcon::MessageIcon)> tell;
  /// Whether the engine is stopped by the user now (kept after an update).
  std::function<bool()> engine_stopped;
  /// Quits the tray as the menu's Quit does.
  std::function<void()> quit;
};

class update_flow : public QObject {
  Q_OBJECT

public:
  update_flow(QMenu& menu, QAction* before, update_hooks hooks,
              QString running_version, QString program,
              QObject* parent = nullptr);

  /// The config's [update] keys (each time it is read); the first read with
  /// check_on_startup set schedules the startup check.
  void configure(const QString& forgejo_repo, bool check_on_startup);

  /// The same from the config file itself, before the engine answers (or
  /// when it never does): a file that cannot be read changes nothing.
  void configure_from_file(const QString& config_path);

  /// Asks now; `asked`: the user chose it (an up-to-date answer is said).
  void check(bool asked);

  /// Started again by an update's helper: says what became of the update
  /// ("installed 1.2.3" or "failed: why", app/finish_update); nothing for
  /// an ordinary start.
  void tell_outcome(const QString& outcome);

  updater& engine() { return updater_; }
  QAction* action() const { return action_; }

private:
  void offer(const update_offer& o);
  void act();
  void hand_over(const QString& installer, const update_offer& o);
  void reset_action();

  updater updater_;
  update_hooks hooks_;
  QString program_;
  // Windows, a copy the installer put there: the update installs itself.
  // A portable copy (or Linux) is told where the new version is instead.
  bool installs_ = false;
  QAction* action_ = nullptr;
  QString repo_;
  bool configured_ = false;
  bool asked_ = false;
  std::optional<update_offer> offer_;
};

/// The folder updates are downloaded to on Windows (in the user's own
/// %TEMP%).
QString update_folder();

/// Whether `program` is a copy Drover's installer put in place (its
/// uninstaller, Uninstall.exe, beside it): only such a copy is updated by
/// running the installer into its folder; a portable one is not turned
/// into an installation.
bool installed_copy(const QString& program);

} // namespace drover::tray
