#pragma once

// The tray app: follows the engine over the control socket and draws it
// (icon, tooltip, menu, window); engine_process finds or starts it. It never
// runs engine code itself: on Linux the engine runs as root and the tray as the
// user (docs/desktop.md).

#include <chrono>
#include <functional>
#include <memory>

#include <QAction>
#include <QElapsedTimer>
#include <QMenu>
#include <QObject>
#include <QStringList>
#include <QSystemTrayIcon>
#include <QTimer>

#include "app/tray/autostart.hpp"
#include "app/tray/engine_link.hpp"
#include "app/tray/engine_process.hpp"
#include "app/tray/main_window.hpp"
#include "app/tray/update_flow.hpp"
#include "app/tray/view.hpp"

namespace drover::tray {

struct tray_options {
  QString program;            // this executable, absolute
  QString config_path;        // the config the engine it starts uses
  bool trace = false;         // start the engine with --trace
  QStringList engine_sockets; // where a running engine answers, in order
  QString version;            // for About
  QString autostart_entry;    // the XDG autostart file
  QString after_update; // what an update's helper said (app/finish_update)
  bool start_stopped = false; // the engine was stopped before that update
};

class tray_app : public QObject {
  Q_OBJECT

public:
  explicit tray_app(tray_options o, QObject* parent = nullptr);
  ~tray_app() override;

  /// Shows the icon (or, without a system tray, the window) and connects to
  /// the engine, starting one when none runs.
  void start();

  /// Raises the window (a second launch asked for it).
  void show_window();

  /// Quit: an engine this tray started is stopped cleanly first.
  void quit();

private:
  void connect_engine();
  void on_event(const engine_event& e);
  void on_stats(const stats_snapshot& s, quint64 uptime_seconds);
  void on_engine_gone();
  void show_no_engine(const QString& why);
  void redraw();
  void refresh_status();
  void load_config();
  /// ui.auto_start and the OS's start entry, made to agree (see
  /// auto_start_in_file_).
  void mirror_auto_start();
  void save_config(const QByteArray& text);
  void send_config(const QByteArray& text,
                   std::function<void(bool, const QString&)> done);
  void remember_toast_shown();
  void run_check();
  /// The check of one of several proxies (empty: every proxy).
  void check_proxy(const QString& proxy);
  void primary();
  void open_log();
  /// A message in the tray's balloon (none for NoIcon) and the log.
  void tell(const QString& text, QSystemTrayIcon::MessageIcon icon);
  std::chrono::seconds uptime() const;

  tray_options options_;
  engine_link link_;
  autostart autostart_;
  QSystemTrayIcon icon_;
  QMenu menu_;
  QAction* status_row_ = nullptr;
  QAction* primary_ = nullptr;
  QAction* run_check_ = nullptr;
  QAction* show_ = nullptr;
  QAction* open_log_ = nullptr;
  QAction* trace_ = nullptr;
  QAction* about_ = nullptr;
  QAction* quit_ = nullptr;
  std::unique_ptr<main_window> window_;
  std::unique_ptr<update_flow> updates_;
  QTimer tick_;
  QTimer single_click_; // a click waits to see whether a second follows

  // What the engine last said.
  engine_event last_;
  stats_snapshot stats_;
  rates rates_;
  QElapsedTimer since_sample_;
  uint64_t uptime_at_sample_ = 0;
  QString config_path_;
  QString log_path_;
  icon drawn_ = icon::idle;
  bool drawn_once_ = false;

  // An engine this tray started (Quit stops it); none for a system service.
  engine_process engine_;
  bool quitting_ = false;
  // ui.auto_start as the file last had it (-1: not read yet): a change in
  // the file moves the OS's entry; at the first read the OS's entry, the
  // truth, moves the file.
  int auto_start_in_file_ = -1;
};

/// Runs the tray until Quit: the exit code.
int run_tray(int argc, char** argv, const tray_options& o,
             const QString& runtime_dir);

} // namespace drover::tray
