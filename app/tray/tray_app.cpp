#include "app/tray/tray_app.hpp"

#include <atomic>
#include <cstdio>
#include <thread>

#include <QApplication>
#include <QFile>

#include "actors/platform/process.hpp"
#include "app/tray/single_instance.hpp"
#include "app/tray/theme.hpp"
#include "app/tray/wire.hpp"
#include "config/config_file.hpp"
#include "config/parse.hpp"

// The icons live in a static library: their registration must be linked in
// explicitly, from the global namespace (Qt's resource functions live there).
static void register_tray_resources() {
  Q_INIT_RESOURCE(tray);
}

namespace drover::tray {

namespace {

QIcon icon_of(const char* name) {
  QIcon i;
  for (int size : {16, 22, 24, 32, 48, 64, 128})
    i.addFile(QStringLiteral(":/icons/%1-%2.png").arg(name).arg(size),
              QSize(size, size));
  return i;
}

QString text_of(const std::string& s) {
  return QString::fromStdString(s);
}

// One line on stderr, which the engine's own log lines also reach when the
// tray started it: what a user (or a test) reads to follow the tray.
void say(const QString& line) {
  std::fprintf(stderr, "tray: %s\n", line.toLocal8Bit().constData());
  std::fflush(stderr);
}

engine_event note(engine_state state, const QString& reason) {
  engine_event e;
  e.state = state;
  e.reason = reason.toStdString();
  e.failure = state == engine_state::failed ? failure_class::fatal
                                            : failure_class::none;
  e.time = caf::make_timestamp();
  return e;
}

} // namespace

tray_app::tray_app(tray_options o, QObject* parent)
    : QObject(parent), options_(std::move(o)), link_(options_.engine_sockets),
      autostart_(options_.autostart_entry, options_.program),
      engine_({options_.program, options_.config_path, options_.trace,
               options_.engine_sockets}) {
  config_path_ = options_.config_path;
  connect(&engine_, &engine_process::said, this,
          [](const QString& line) { say(line); });
  connect(&engine_, &engine_process::ended, this, [this](const QString& why) {
    if (quitting_)
      QApplication::quit(); // Quit waited for it
    else
      show_no_engine(why);
  });
  window_ = std::make_unique<main_window>(options_.program);
  window_->setWindowIcon(icon_of("drover"));

  status_row_ = menu_.addAction(QString{});
  status_row_->setEnabled(false);
  menu_.addSeparator();
  primary_ = menu_.addAction(QString{}, this, &tray_app::primary);
  run_check_ = menu_.addAction(tr("Run check"), this, &tray_app::run_check);
  menu_.addSeparator();
  show_ = menu_.addAction(tr("Show window"), this, &tray_app::show_window);
  open_log_ = menu_.addAction(tr("Open log file"), this, &tray_app::open_log);
  // For a bug report: the Check tab's "Save a report…", from the menu.
  menu_.addAction(tr("Save a report…"), this, [this] {
    show_window();
    window_->show_tab(window_->check());
    window_->check()->ask_and_save_report();
  });
  trace_ = menu_.addAction(tr("Trace log"));
  trace_->setCheckable(true);
  connect(trace_, &QAction::triggered, this, [this](bool on) {
    link_.request(on ? "trace on" : "trace off",
                  [this, on](bool ok, const QByteArray&) {
                    if (!ok)
                      trace_->setChecked(!on);
                  });
  });
  menu_.addSeparator();
  about_ = menu_.addAction(tr("About Drover"), this, [this] {
    window_->show_about(options_.version, config_path_, log_path_);
  });
  menu_.addSeparator();
  quit_ = menu_.addAction(tr("Quit"), this, &tray_app::quit);
  updates_ = std::make_unique<update_flow>(
      menu_, about_,
      update_hooks{[this](const QString& text, QSystemTrayIcon::MessageIcon i) {
                     tell(text, i);
                   },
                   [this] { return last_.state == engine_state::idle; },
                   [this] {
                     quit();
                   }},
      options_.version, options_.program);
  connect(&menu_, &QMenu::aboutToShow, this, [this] {
    show_->setVisible(!window_->isVisible());
    redraw();
  });
  icon_.setContextMenu(&menu_);
  // A click toggles the window once no second click follows; a double
  // click (two clicks within the desktop's interval, however Qt reports
  // them) always shows it.
  single_click_.setSingleShot(true);
  single_click_.setInterval(QApplication::doubleClickInterval());
  connect(&single_click_, &QTimer::timeout, this,
          [this] { window_->isVisible() ? window_->hide() : show_window(); });
  connect(&icon_, &QSystemTrayIcon::activated, this,
          [this](QSystemTrayIcon::ActivationReason why) {
            if (why == QSystemTrayIcon::Trigger && !single_click_.isActive()) {
              single_click_.start();
            } else if (why == QSystemTrayIcon::Trigger
                       || why == QSystemTrayIcon::DoubleClick) {
              single_click_.stop();
              show_window();
            }
          });

  connect(window_.get(), &main_window::primary_clicked, this,
          &tray_app::primary);
  connect(window_.get(), &main_window::closed_to_tray, this, [this] {
    if (!icon_.isVisible()) {
      quit(); // no icon to keep running behind
      return;
    }
    remember_toast_shown();
  });
  connect(window_->check(), &check_page::run_requested, this,
          &tray_app::run_check);
  connect(window_->settings(), &settings_page::test_requested, this,
          &tray_app::check_proxy);
  connect(window_->check(), &check_page::finished, this,
          [](bool ok) { say(ok ? "check passed" : "check failed"); });
  connect(
      window_->check(), &check_page::report_saved, this,
      [](bool ok, const QString& said) {
        say(QStringLiteral("report %1: %2").arg(ok ? "saved" : "failed", said));
      });
  connect(window_->apps(), &apps_page::running_changed, this,
          [](const QStringList& names) {
            say(QStringLiteral("apps running: %1")
                    .arg(names.isEmpty() ? QStringLiteral("none")
                                         : names.join(QStringLiteral(", "))));
          });
  connect(window_->settings(), &settings_page::save_requested, this,
          &tray_app::save_config);
  connect(window_->settings(), &settings_page::problem_changed, window_.get(),
          &main_window::show_banner);
  connect(window_->settings(), &settings_page::autostart_toggled, this,
          [this](bool on) {
            auto error = autostart_.set_enabled(on);
            if (!error.isEmpty())
              window_->settings()->saved(false, error);
            window_->settings()->set_autostart(autostart_.enabled());
            say(QStringLiteral("autostart %1")
                    .arg(autostart_.enabled() ? "on" : "off"));
          });

  connect(&link_, &engine_link::connected, this, [this] {
    say(QStringLiteral("engine at %1").arg(link_.path()));
    window_->clear_events(); // the engine replays its recent events now
    load_config();
    refresh_status();
  });
  connect(&link_, &engine_link::disconnected, this, &tray_app::on_engine_gone);
  connect(&link_, &engine_link::event_arrived, this, &tray_app::on_event);
  connect(&link_, &engine_link::stats_arrived, this, &tray_app::on_stats);
  connect(&link_, &engine_link::garbled, this, [](const QString& why) {
    say(QStringLiteral("ignored a line from the engine: %1").arg(why));
  });
  connect(&link_, &engine_link::refused, this, &tray_app::show_no_engine);

  tick_.setInterval(1000);
  connect(&tick_, &QTimer::timeout, this, [this] {
    redraw();
    if (window_->isVisible() && link_.is_up())
      refresh_status();
  });
}

tray_app::~tray_app() {
  // Nothing may call back into a half-destroyed tray.
  engine_.disconnect(this);
  link_.disconnect(this);
}

void tray_app::start() {
  if (autostart_.heal())
    say(QStringLiteral("autostart entry now points at %1")
            .arg(options_.program));
  window_->settings()->set_autostart(autostart_.enabled());
  last_ = note(engine_state::starting, tr("Looking for the engine…"));
  redraw();
  if (QSystemTrayIcon::isSystemTrayAvailable()) {
    icon_.show();
  } else {
    say("no system tray here: showing the window instead");
    show_window();
  }
  tick_.start();
  connect_engine();
  updates_->tell_outcome(options_.after_update);
  updates_->configure_from_file(config_path_);
}

void tray_app::tell(const QString& text, QSystemTrayIcon::MessageIcon icon) {
  say(QStringLiteral("update: %1").arg(text));
  if (icon != QSystemTrayIcon::NoIcon && icon_.isVisible())
    icon_.showMessage(QStringLiteral("Drover"), text, icon, 15000);
}

void tray_app::show_window() {
  window_->show();
  window_->setWindowState(window_->windowState() & ~Qt::WindowMinimized);
  window_->raise();
  window_->activateWindow();
  if (link_.is_up())
    refresh_status();
}

void tray_app::connect_engine() {
  if (!engine_.answers()) {
    QString why;
    // Stopped before an update: the new engine starts stopped, never Active.
    bool stopped = std::exchange(options_.start_stopped, false);
    if (engine_.launch(why, stopped)) {
      last_ = stopped
                  ? note(engine_state::idle,
                         tr("Stopped, as it was before the update."))
                  : note(engine_state::starting, tr("Starting the engine…"));
      redraw();
    } else {
      show_no_engine(why);
    }
  }
  link_.start();
}

void tray_app::on_event(const engine_event& e) {
  window_->add_event(e);
  switch (e.kind) {
    case event_kind::state_changed:
    case event_kind::reconnect_attempt:
      last_ = e;
      break;
    case event_kind::config_error:
    case event_kind::config_applied:
      last_.state = e.state;
      load_config();
      break;
    default:
      last_.state = e.state;
      break;
  }
  if (e.state != engine_state::active)
    stats_.no_traffic = false;
  // Stopped before an update, and an engine was running already: stop it.
  if (options_.start_stopped && e.kind == event_kind::state_changed
      && e.state != engine_state::idle) {
    options_.start_stopped = false;
    link_.request("stop", [](bool, const QByteArray&) {});
  }
  auto before = drawn_;
  redraw();
  if (drawn_ != before) {
    auto late = std::chrono::duration_cast<std::chrono::milliseconds>(
        caf::make_timestamp() - e.time);
    say(QStringLiteral("icon %1 (%2) %3 ms after the engine's event")
            .arg(to_string(drawn_))
            .arg(text_of(state_text(last_, stats_)))
            .arg(late.count()));
  }
}

void tray_app::on_stats(const stats_snapshot& s, quint64 uptime_seconds) {
  if (since_sample_.isValid()) {
    rates_ = rates_between(stats_, s,
                           std::chrono::milliseconds{since_sample_.elapsed()});
    window_->add_sample(rates_);
  }
  bool was_quiet = stats_.no_traffic;
  stats_ = s;
  uptime_at_sample_ = uptime_seconds;
  since_sample_.restart();
  redraw();
  if (was_quiet != s.no_traffic)
    say(QStringLiteral("icon %1 (%2)")
            .arg(to_string(drawn_))
            .arg(text_of(state_text(last_, stats_))));
}

void tray_app::on_engine_gone() {
  if (quitting_)
    return;
  stats_ = {};
  since_sample_.invalidate();
  if (!engine_.ours())
    show_no_engine(tr("The engine is not running. Drover connects again as "
                      "soon as it is back; choose Start to start it."));
}

void tray_app::show_no_engine(const QString& why) {
  say(QStringLiteral("no engine: %1").arg(why));
  last_ = note(engine_state::failed, why);
  stats_ = {};
  redraw();
}

std::chrono::seconds tray_app::uptime() const {
  auto extra = since_sample_.isValid() ? since_sample_.elapsed() / 1000 : 0;
  return std::chrono::seconds{static_cast<long long>(uptime_at_sample_)
                              + extra};
}

void tray_app::redraw() {
  auto now = icon_for(last_, stats_);
  if (!drawn_once_ || now != drawn_) {
    icon_.setIcon(icon_of(to_string(now)));
    drawn_ = now;
    drawn_once_ = true;
  }
  icon_.setToolTip(text_of(tooltip(last_, stats_)));
  status_row_->setText(text_of(status_row(last_, stats_, uptime(), rates_)));
  auto item = primary_for(link_.is_up() ? last_.state : engine_state::idle);
  bool enabled = link_.is_up() || !engine_.ours();
  primary_->setText(text_of(item.label));
  primary_->setEnabled(enabled);
  window_->set_primary(item, enabled);
  window_->show_state(last_, stats_, uptime(), rates_);
  open_log_->setEnabled(!log_path_.isEmpty());
  trace_->setEnabled(link_.is_up());
}

void tray_app::refresh_status() {
  link_.request("status json", [this](bool ok, const QByteArray& answer) {
    if (!ok)
      return;
    QString error;
    auto status = parse_status(answer, &error);
    if (!status) {
      say(QStringLiteral("unreadable status: %1").arg(error));
      return;
    }
    if (!status->config_path.isEmpty())
      config_path_ = status->config_path;
    log_path_ = status->log_path;
    trace_->setChecked(status->trace);
    window_->show_status(*status);
  });
}

void tray_app::load_config() {
  link_.request("config get", [this](bool ok, const QByteArray& text) {
    if (!ok)
      return;
    window_->settings()->load(text, config_path_);
    if (auto* app = qobject_cast<QApplication*>(QCoreApplication::instance()))
      apply_theme(*app, window_->settings()->current().ui.theme);
    mirror_auto_start();
    const auto& update = window_->settings()->current().update;
    updates_->configure(QString::fromStdString(update.forgejo_repo),
                        update.check_on_startup);
    // ui.tray_icon = false: the window alone (closing it quits).
    bool wanted = window_->settings()->current().ui.tray_icon
                  && QSystemTrayIcon::isSystemTrayAvailable();
    if (wanted != icon_.isVisible()) {
      icon_.setVisible(wanted);
      if (!wanted)
        show_window();
    }
  });
}

void tray_app::mirror_auto_start() {
  if (!window_->settings()->has_good_config())
    return; // never written over a file the user is fixing
  auto s = window_->settings()->current();
  bool in_file = s.ui.auto_start;
  bool first = auto_start_in_file_ < 0;
  bool file_changed = !first && in_file != (auto_start_in_file_ == 1);
  auto_start_in_file_ = in_file ? 1 : 0;
  if (in_file == autostart_.enabled())
    return;
  if (file_changed) {
    // Someone changed the file (by hand, `config set`): the OS follows.
    auto error = autostart_.set_enabled(in_file);
    say(error.isEmpty()
            ? QStringLiteral("autostart %1, as the config file now says")
                  .arg(in_file ? "on" : "off")
            : QStringLiteral("cannot turn autostart %1: %2")
                  .arg(in_file ? "on" : "off", error));
    window_->settings()->set_autostart(autostart_.enabled());
    return;
  }
  if (!first)
    return;
  // The OS's entry is the truth (the desktop's own settings may have
  // turned it off): the file follows it.
  s.ui.auto_start = autostart_.enabled();
  auto_start_in_file_ = s.ui.auto_start ? 1 : 0;
  say(QStringLiteral("the config file now says autostart %1, as the system "
                     "does")
          .arg(s.ui.auto_start ? "on" : "off"));
  send_config(QByteArray::fromStdString(config::serialize(s)),
              [](bool ok, const QString& detail) {
                if (!ok)
                  say(QStringLiteral("could not note autostart in the "
                                     "config file: %1")
                          .arg(detail));
              });
}

void tray_app::save_config(const QByteArray& text) {
  send_config(text, [this](bool ok, const QString& detail) {
    window_->settings()->saved(ok, detail);
  });
}

void tray_app::send_config(const QByteArray& text,
                           std::function<void(bool, const QString&)> done) {
  if (!link_.is_up()) {
    done(false, tr("The engine is not running, so the settings cannot be "
                   "saved now."));
    return;
  }
  link_.request(
      "config set " + QByteArray::number(text.size()) + "\n" + text,
      [done](bool ok, const QByteArray& answer) {
        if (!ok) {
          done(false, tr("The engine did not answer."));
          return;
        }
        done(answer.startsWith("ok"),
             QString::fromUtf8(answer.mid(answer.indexOf('\n') + 1)).trimmed());
      });
}

void tray_app::remember_toast_shown() {
  auto s = window_->settings()->current();
  if (s.ui.shown_tray_toast)
    return;
  icon_.showMessage(tr("Drover is still running"),
                    tr("Drover keeps proxying from the tray. To quit, use "
                       "Quit in the tray menu."),
                    QSystemTrayIcon::Information, 8000);
  say("shown the first-close notification");
  s.ui.shown_tray_toast = true;
  window_->settings()->mark_toast_shown();
  // Written only over a good config, never over a file the user is fixing;
  // the engine's config watcher then reloads the form.
  if (window_->settings()->has_good_config())
    send_config(
        QByteArray::fromStdString(config::serialize(s)),
        [](bool ok, const QString& detail) {
          if (!ok)
            say(QStringLiteral("could not remember the notification: %1")
                    .arg(detail));
        });
}

void tray_app::run_check() {
  check_proxy({});
}

void tray_app::check_proxy(const QString& proxy) {
  show_window();
  window_->show_tab(window_->check());
  auto run_local = [this, proxy] {
    QFile f{config_path_};
    window_->check()->run(
        f.open(QIODevice::ReadOnly)
            ? f.readAll()
            : QByteArray::fromStdString(config::serialize(config::settings{})),
        proxy);
  };
  if (!link_.is_up()) {
    run_local();
    return;
  }
  // The engine runs it: the config it would hand out has no passwords.
  window_->check()->waiting();
  link_.request(
      proxy.isEmpty() ? QByteArray{"check"} : "check " + proxy.toUtf8(),
      [this](bool ok, const QByteArray& answer) {
        window_->check()->show_answer(ok, answer);
      },
      200000);
}

void tray_app::primary() {
  if (!link_.is_up()) {
    connect_engine();
    return;
  }
  auto item = primary_for(last_.state);
  const char* command = item.action == primary_action::start  ? "start"
                        : item.action == primary_action::stop ? "stop"
                                                              : "retry";
  say(QStringLiteral("asking the engine to %1").arg(command));
  link_.request(command, [](bool, const QByteArray&) {});
}

void tray_app::open_log() {
  window_->show_log(log_path_);
}

void tray_app::quit() {
  if (quitting_)
    return;
  quitting_ = true;
  say("quitting");
  icon_.hide();
  window_->hide();
  if (!engine_.ours()) {
    // A system service keeps running as configured; this tray just leaves.
    QApplication::quit();
    return;
  }
  // The engine this tray started stops cleanly (capture released) first;
  // its exit ends the tray (see launch_engine). Bounded, should it hang.
  QTimer::singleShot(15000, this, [] { QApplication::quit(); });
  if (link_.is_up())
    link_.request("quit", [](bool, const QByteArray&) {});
  else
    engine_.terminate();
}

int run_tray(int argc, char** argv, const tray_options& o,
             const QString& runtime_dir) {
  register_tray_resources();
  // Before any thread starts (Qt's own included), so that only the waiting
  // thread below receives termination requests.
  platform::capture_termination_requests();
  // Display scaling (Windows laptops run at 125-200 %): Qt 5 scales only
  // when asked. Whole factors only: below 175 % the fonts alone grow (with
  // the system's DPI), which stays sharp, where Qt 5's fractional factors
  // cut glyphs off (seen under wine at 150 %). At 96 DPI nothing changes.
  QApplication::setAttribute(Qt::AA_EnableHighDpiScaling);
  QApplication::setAttribute(Qt::AA_UseHighDpiPixmaps);
  QApplication::setHighDpiScaleFactorRoundingPolicy(
      Qt::HighDpiScaleFactorRoundingPolicy::RoundPreferFloor);
  QApplication app{argc, argv};
  QApplication::setApplicationName("Drover");
  QApplication::setQuitOnLastWindowClosed(false);
  QApplication::setWindowIcon(icon_of("drover"));
  apply_platform_font(app);
  single_instance instance{runtime_dir};
  if (!instance.claim()) {
    if (!instance.error().isEmpty()) {
      say(instance.error());
      return 1;
    }
    say("Drover is already running: asked it to show its window");
    return 0;
  }
  if (!instance.error().isEmpty())
    say(QStringLiteral("second launches cannot reach this one: %1")
            .arg(instance.error()));
  tray_app tray{o};
  QObject::connect(&instance, &single_instance::show_requested, &tray, [&] {
    say("another launch asked for the window");
    tray.show_window();
  });
  // SIGTERM or Ctrl+C (a logout, a `kill`) quits as the menu's Quit does,
  // so an engine this tray started is not left running without a tray.
  std::atomic<bool> exiting{false};
  std::thread terminations{[&] {
    platform::wait_for_termination();
    if (!exiting)
      QMetaObject::invokeMethod(
          &tray, [&] { tray.quit(); }, Qt::QueuedConnection);
  }};
  tray.start();
  int code = QApplication::exec();
  exiting = true;
  platform::request_termination(); // wakes the waiting thread if it waits
  terminations.join();
  return code;
}

} // namespace drover::tray
