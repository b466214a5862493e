#pragma once

// The Settings tab: the proxies (one, or several chosen from a list, each
// with a name rules refer to), their logins, the rules, the log level and
// start-at-login. Edits are checked by the config's own
// validator before anything is written (the same messages as `drover config
// check`), then the whole file is handed to the engine, which writes it
// atomically; its config watcher applies it (hot reload).

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QWidget>

#include "app/tray/rules_editor.hpp"
#include "config/settings.hpp"

namespace drover::tray {

class settings_page : public QWidget {
  Q_OBJECT

public:
  explicit settings_page(QWidget* parent = nullptr);

  /// Shows the config file's text (from the engine). A broken file keeps the
  /// form on the last good values and reports the error (the window's
  /// banner); saving the form writes a whole, valid file again.
  void load(const QByteArray& text, const QString& path);

  /// The engine's answer to a save.
  void saved(bool ok, const QString& message);

  /// Start at login, as the desktop says (the user may have turned it off
  /// in the desktop's own settings: that wins).
  void set_autostart(bool on);

  /// "Add an app": `rule` goes last in the rules and the form is saved
  /// (validated as a save is; the rule shown).
  void add_rule(const config::app_rule& rule);

  /// The settings last loaded or saved.
  const config::settings& current() const { return current_; }

  /// Whether current() came from a good file (not only the defaults).
  bool has_good_config() const { return good_; }

  /// The first-close notification was shown (it is not written to the
  /// file when no good file is known).
  void mark_toast_shown() { current_.ui.shown_tray_toast = true; }

Q_SIGNALS:
  /// The file is broken (the diagnostic, with line and column) or fine
  /// again (empty).
  void problem_changed(const QString& diagnostic);
  /// The form passed validation: write this text as the config file.
  void save_requested(const QByteArray& text);
  void autostart_toggled(bool on);
  /// "Check it": run the check on the saved proxy of this name (empty: the
  /// only one).
  void test_requested(const QString& proxy);

private:
  void fill(const config::settings& s);
  /// The proxies: the chosen one's fields in the form, the others kept.
  void show_proxy(int index);
  void enable_dependent_fields();
  void take_proxy();
  void refresh_proxy_choice();
  void save();
  void refuse(const QString& message, QWidget* field);

  config::settings current_;
  config::settings pending_; // handed to the engine, not yet confirmed
  // A rule's program file or folder the pending settings name and that is
  // not there (yet), said once they are saved; its rule (-1: none).
  QString pending_missing_;
  int pending_missing_rule_ = -1;
  bool good_ = false;
  QString path_;
  std::vector<config::proxy_settings> proxies_; // as edited
  int shown_proxy_ = 0;
  bool filling_proxy_ = false;
  QComboBox* proxy_choice_;
  QPushButton* add_proxy_;
  QPushButton* remove_proxy_;
  QPushButton* test_proxy_;
  QLineEdit* name_;
  QLineEdit* host_;
  QSpinBox* port_;
  QComboBox* type_;
  QCheckBox* auth_;
  QCheckBox* by_name_;
  QSpinBox* spares_;
  QLineEdit* login_;
  QLineEdit* password_;
  rules_editor* rules_;
  QComboBox* level_;
  QComboBox* theme_;
  QCheckBox* autostart_;
  QPushButton* save_;
  QPushButton* revert_;
  QLabel* message_;
};

} // namespace drover::tray
