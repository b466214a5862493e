#include "app/tray/check_page.hpp"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QVBoxLayout>

namespace drover::tray {

check_page::check_page(QString program, QWidget* parent)
    : QWidget(parent), program_(std::move(program)) {
  auto* layout = new QVBoxLayout(this);
  auto* intro = new QLabel(
      tr("Checks that the proxy works for Discord: it answers, speaks SOCKS5, "
         "accepts the login, carries a TCP connection, and relays UDP "
         "(voice)."));
  intro->setWordWrap(true);
  layout->addWidget(intro);
  button_ = new QPushButton(tr("Run check"));
  button_->setObjectName("run_check");
  // For a bug report: one archive with what a developer asks for first.
  report_button_ = new QPushButton(tr("Save a report…"));
  report_button_->setObjectName("save_report");
  report_button_->setToolTip(
      tr("One file for a bug report: the versions, the settings (without "
         "logins and passwords), the status, the check and the end of the "
         "log"));
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(button_);
  buttons->addWidget(report_button_);
  buttons->addStretch();
  layout->addLayout(buttons);
  connect(report_button_, &QPushButton::clicked, this,
          &check_page::ask_and_save_report);
  connect(&report_,
          QOverload<int, QProcess::ExitStatus>::of(&QProcess::finished), this,
          [this](int code, QProcess::ExitStatus) {
            report_button_->setEnabled(true);
            auto said = QString::fromUtf8(report_.readAllStandardOutput()
                                          + report_.readAllStandardError())
                            .trimmed();
            summary_->setText(said);
            Q_EMIT report_saved(code == 0, said);
          });
  steps_ = new QTreeWidget;
  steps_->setObjectName("check_steps");
  steps_->setHeaderLabels({tr("Step"), tr("Result"), tr("Time"), tr("Detail")});
  steps_->setRootIsDecorated(false);
  steps_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  steps_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  steps_->header()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
  layout->addWidget(steps_, 1);
  summary_ = new QLabel;
  summary_->setObjectName("check_summary");
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(summary_);
  connect(button_, &QPushButton::clicked, this, &check_page::start);
  connect(&process_,
          QOverload<int, QProcess::ExitStatus>::of(&QProcess::finished), this,
          [this](int code, QProcess::ExitStatus) { show_result(code); });
  connect(
      &process_, &QProcess::errorOccurred, this,
      [this](QProcess::ProcessError e) {
        if (e != QProcess::FailedToStart)
          return;
        button_->setEnabled(true);
        summary_->setText(
            tr("Could not run %1: %2").arg(program_, process_.errorString()));
        Q_EMIT finished(false);
      });
}

void check_page::run(const QByteArray& config_text, const QString& proxy) {
  if (running())
    return;
  steps_->clear();
  summary_->setText(tr("Checking the proxy…"));
  button_->setEnabled(false);
  // Private to this user (QTemporaryFile is 0600): it may hold a password.
  config_.close();
  if (!config_.open() || config_.write(config_text) != config_text.size()
      || !config_.flush()) {
    summary_->setText(tr("Could not write a temporary file for the check: %1")
                          .arg(config_.errorString()));
    button_->setEnabled(true);
    Q_EMIT finished(false);
    return;
  }
  QStringList args{"check", "--json", "--config", config_.fileName()};
  if (!proxy.isEmpty())
    args << "--proxy" << proxy; // one of several
  process_.start(program_, args);
}

void check_page::waiting() {
  steps_->clear();
  summary_->setText(tr("Checking the proxy…"));
  summary_->setStyleSheet({});
  button_->setEnabled(false);
  waiting_ = true;
}

void check_page::show_answer(bool reached, const QByteArray& answer) {
  waiting_ = false;
  if (!reached) {
    button_->setEnabled(true);
    summary_->setText(tr("Drover's engine did not answer the check."));
    Q_EMIT finished(false);
    return;
  }
  if (answer.startsWith("error\n")) {
    button_->setEnabled(true);
    summary_->setText(QString::fromUtf8(answer.mid(6)).trimmed());
    summary_->setStyleSheet("color: #c62828;");
    Q_EMIT finished(false);
    return;
  }
  show_json(answer, {}, 0);
}

void check_page::show_result(int exit_code) {
  show_json(process_.readAllStandardOutput(),
            QString::fromUtf8(process_.readAllStandardError()).trimmed(),
            exit_code);
}

void check_page::show_json(const QByteArray& out, const QString& err,
                           int exit_code) {
  button_->setEnabled(true);
  auto doc = QJsonDocument::fromJson(out);
  if (doc.isArray()) {
    // Several proxies: each one's steps under its name; ok when all are.
    bool all_ok = true;
    QStringList summaries;
    for (const auto& item : doc.array()) {
      auto o = item.toObject();
      auto name = o.value("name").toString();
      auto title = name.isEmpty() ? o.value("proxy").toString()
                                  : QStringLiteral("%1 (%2)").arg(
                                      name, o.value("proxy").toString());
      auto* head = new QTreeWidgetItem(steps_);
      head->setText(0, tr("Proxy %1").arg(title));
      auto bold = head->font(0);
      bold.setBold(true);
      head->setFont(0, bold);
      add_steps(o);
      all_ok = all_ok && o.value("ok").toBool();
      summaries << QStringLiteral("%1: %2").arg(name.isEmpty() ? title : name,
                                                o.value("summary").toString());
    }
    summary_->setText(summaries.join(QStringLiteral("\n")));
    summary_->setStyleSheet(all_ok ? "color: #2e7d32;" : "color: #c62828;");
    Q_EMIT finished(all_ok);
    return;
  }
  if (!doc.isObject()) {
    summary_->setText(err.isEmpty() ? tr("The check ended without a result "
                                         "(exit code %1).")
                                          .arg(exit_code)
                                    : err);
    Q_EMIT finished(false);
    return;
  }
  auto o = doc.object();
  add_steps(o);
  bool ok = o.value("ok").toBool();
  summary_->setText(o.value("summary").toString());
  summary_->setStyleSheet(ok ? "color: #2e7d32;" : "color: #c62828;");
  Q_EMIT finished(ok);
}

void check_page::add_steps(const QJsonObject& result) {
  for (const auto& item : result.value("steps").toArray()) {
    auto step = item.toObject();
    bool ok = step.value("ok").toBool();
    auto* row = new QTreeWidgetItem(steps_);
    row->setText(0, step.value("name").toString());
    row->setText(1, ok ? tr("✔ ok") : tr("✘ failed"));
    row->setForeground(1, ok ? QColor("#2e7d32") : QColor("#c62828"));
    row->setText(2, tr("%1 ms").arg(step.value("ms").toDouble(), 0, 'f', 1));
    row->setText(3, step.value("detail").toString());
    row->setToolTip(3, step.value("detail").toString());
  }
}

void check_page::ask_and_save_report() {
  auto where
      = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
  auto path = QFileDialog::getSaveFileName(
      this, tr("Save a report"), where + QStringLiteral("/drover-report.zip"),
      tr("ZIP archives (*.zip)"));
  if (!path.isEmpty())
    save_report(path);
}

void check_page::save_report(const QString& path) {
  if (report_.state() != QProcess::NotRunning)
    return;
  report_button_->setEnabled(false);
  summary_->setText(tr("Writing the report (the check can take a minute)…"));
  report_.start(program_, {QStringLiteral("report"), path});
}

void check_page::start() {
  if (!running() && !waiting_)
    Q_EMIT run_requested();
}

} // namespace drover::tray
