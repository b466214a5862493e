#pragma once

// The Check tab: `drover check`'s steps with their verdicts. Runs the same
// binary's `check --json` on the config the engine uses (handed over in a
// private temporary file), so the tray and the command line cannot
// disagree, and the window stays responsive while it runs.

#include <QJsonObject>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QTemporaryFile>
#include <QTreeWidget>
#include <QWidget>

namespace drover::tray {

class check_page : public QWidget {
  Q_OBJECT

public:
  check_page(QString program, QWidget* parent = nullptr);

  /// Runs the check against `config_text` (the engine's config file):
  /// every proxy in it, or only the one named `proxy`.
  void run(const QByteArray& config_text, const QString& proxy = {});
  /// The engine runs the check (it has the passwords): shown as waiting
  /// until show_answer() brings its answer (`check [NAME]`'s).
  void waiting();
  void show_answer(bool reached, const QByteArray& answer);

  bool running() const { return process_.state() != QProcess::NotRunning; }
  /// As its button: asks for a check unless one is under way.
  void start();
  /// "Save a report": `drover report PATH` (this executable), said in the
  /// summary when it is written.
  void save_report(const QString& path);
  /// Asks where (a file dialog), then save_report().
  void ask_and_save_report();

Q_SIGNALS:
  /// The report was written (or not): `drover report`'s own words.
  void report_saved(bool ok, const QString& said);
  /// Asks for the current config text; answered with run().
  void run_requested();
  /// The check finished: all steps passed or not.
  void finished(bool ok);

private:
  void show_result(int exit_code);
  void show_json(const QByteArray& out, const QString& err, int exit_code);
  void add_steps(const QJsonObject& result);

  QString program_;
  QProcess process_;
  QProcess report_; // `drover report`
  QTemporaryFile config_;
  QLabel* summary_;
  QTreeWidget* steps_;
  QPushButton* button_;
  QPushButton* report_button_;
  bool waiting_ = false; // for the engine's answer
};

} // namespace drover::tray
