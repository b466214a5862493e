#pragma once

// The rules in the Settings tab (`[[rule]]`): a list in order, the first
// that matches a program deciding, with Add, Remove, Up and Down; below it
// the selected rule's name, programs (one per line: a name or pattern, a
// full path, a folder ending in a slash), "and what they start", and what
// its traffic does. What is typed is judged by the config's own validator
// when the page saves.

#include <vector>

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QWidget>

#include "config/settings.hpp"

namespace drover::tray {

class rules_editor : public QWidget {
  Q_OBJECT

public:
  explicit rules_editor(QWidget* parent = nullptr);

  /// Shows `rules`, the first selected.
  void set_rules(std::vector<config::app_rule> rules);

  /// The rules as edited, the selected one's form included.
  std::vector<config::app_rule> rules();

  /// Selects rule `index` and puts the focus on its programs (where an
  /// error the validator found is).
  void focus_rule(int index);

  /// The programs field, for the page's error marks.
  QWidget* programs_field() const { return programs_; }

  /// The proxies' names, in order, for the "Through" choice of a rule
  /// that proxies (the first is the default). A rule whose proxy is no
  /// longer among them goes through the first.
  void set_proxy_names(const std::vector<std::string>& names);
  /// A proxy was renamed: the rules through it follow.
  void rename_proxy(const std::string& from, const std::string& to);

private:
  void show_rule(int index);
  void take_form();
  void refresh_list();
  void move(int by);
  void sync_buttons();

  std::vector<config::app_rule> rules_;
  int current_ = -1;
  bool filling_ = false;
  QListWidget* list_;
  QLineEdit* name_;
  QPlainTextEdit* programs_;
  QCheckBox* children_;
  QComboBox* action_;
  QComboBox* proxy_; // which proxy, with several
  QLabel* proxy_label_;
  std::vector<std::string> proxy_names_;
  QPushButton* add_;
  QPushButton* remove_;
  QPushButton* up_;
  QPushButton* down_;
};

} // namespace drover::tray
