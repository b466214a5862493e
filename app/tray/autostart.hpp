#pragma once

// Start at login. Linux: an XDG autostart entry
// ($XDG_CONFIG_HOME/autostart/drover.desktop), whose text and reading are
// pure and unit-tested here; Windows: the Run value with Explorer's
// StartupApproved switch (actors/platform/startup_entry.hpp; `entry_path`
// is then only shown).

#include <QString>

namespace drover::tray {

/// The autostart entry that starts `program` (an absolute path).
QString autostart_entry(const QString& program);

/// Whether an entry's text starts Drover at login: false when the desktop's
/// own settings turned it off (Hidden=true, X-GNOME-Autostart-enabled=false;
/// the user's choice there wins, as StartupApproved does on Windows).
bool entry_enabled(const QString& text);

/// The Exec= program of an entry, unquoted; empty when there is none.
QString entry_program(const QString& text);

class autostart {
public:
  /// `entry_path`: where the entry lives; `program`: this executable.
  autostart(QString entry_path, QString program);

  /// The entry's place for this user.
  static QString default_entry_path();

  bool enabled() const;

  /// Writes or removes the entry; an error text, or empty on success.
  QString set_enabled(bool on);

  /// When enabled, points the entry at this executable again if it moved
  /// (seed A-6: self-healing). True when it rewrote the entry.
  bool heal();

private:
  QString path_;
  QString program_;
};

} // namespace drover::tray
