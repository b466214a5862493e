#pragma once

// The window: Status, Timeline (every restart, reconnect attempt, config
// error, sleep and wake, with its time), Flows, Settings, Check. Closing it
// hides it to the tray (seed D1); only the tray menu's Quit ends Drover.

#include <chrono>

#include <QLabel>
#include <QMainWindow>
#include <QPushButton>
#include <QTabWidget>
#include <QTableWidget>
#include <QTreeWidget>

#include "app/tray/apps_page.hpp"
#include "app/tray/check_page.hpp"
#include "app/tray/settings_page.hpp"
#include "app/tray/traffic_chart.hpp"
#include "app/tray/view.hpp"
#include "app/tray/wire.hpp"

namespace drover::tray {

class main_window : public QMainWindow {
  Q_OBJECT

public:
  /// `program`: this executable, for the Check tab's `drover check`.
  explicit main_window(const QString& program, QWidget* parent = nullptr);

  /// The Status tab's head: the state badge in the tray icon's colour,
  /// one sentence, what to do when something is wrong; the details
  /// (reason, attempt, uptime, rates) below.
  void show_state(const engine_event& last, const stats_snapshot& stats,
                  std::chrono::seconds uptime, const rates& r);
  /// One second's rates for the traffic chart.
  void add_sample(const rates& r);
  /// The counters and the flow list from `status json`.
  void show_status(const status_reply& s);
  /// One more Timeline row (newest on top).
  void add_event(const engine_event& e);
  void clear_events();
  void set_primary(const primary_item& item, bool enabled);
  /// The config file's error (with line and column), or hides the banner.
  void show_banner(const QString& text);

  settings_page* settings() const { return settings_; }
  check_page* check() const { return check_; }
  apps_page* apps() const { return apps_; }
  /// About Drover: the version, the config and the log.
  void show_about(const QString& version, const QString& config_path,
                  const QString& log_path);
  /// The engine's log: opened when this user may read it, else where it
  /// is and how to read it.
  void show_log(const QString& log_path);
  void show_tab(QWidget* page) { tabs_->setCurrentWidget(page); }
  traffic_chart* chart() const { return chart_; }

Q_SIGNALS:
  void primary_clicked();
  /// The user closed the window: it is hidden, Drover keeps running.
  void closed_to_tray();

protected:
  void closeEvent(QCloseEvent* event) override;

private:
  QWidget* make_status_page();

  QTabWidget* tabs_;
  QLabel* banner_;
  QLabel* state_;    // the badge
  QLabel* headline_; // one sentence
  QPushButton* open_settings_;
  QPushButton* run_check_;
  traffic_chart* chart_;
  QWidget* details_; // the engineering counters, folded
  QWidget* settings_tab_ = nullptr;
  QLabel* reason_;
  QLabel* attempt_;
  QLabel* uptime_;
  QLabel* rates_;
  QLabel* flows_count_;
  QLabel* traffic_;
  QLabel* lifetime_; // all time, from stats.json
  QLabel* dropped_;
  QLabel* sorted_label_;
  QLabel* sorted_;  // Windows: how the capture sorted every program's packets
  QLabel* proxies_; // several proxies: each one's state
  QLabel* proxies_label_ = nullptr; // its row's label
  QPushButton* primary_;
  QTreeWidget* timeline_;
  QTableWidget* flows_;
  settings_page* settings_;
  check_page* check_;
  apps_page* apps_;
};

} // namespace drover::tray
