#include "app/tray/engine_process.hpp"

#include <cstdio>

#include <QLocalSocket>
#include <QStandardPaths>

#include "actors/platform/process.hpp"
#include "config/config_file.hpp"

namespace drover::tray {

engine_process::engine_process(options o, QObject* parent)
    : QObject(parent), options_(std::move(o)) {}

engine_process::~engine_process() {
  // Nothing may call back into a half-destroyed tray: an engine process
  // still running is killed by its destructor (a bounded Quit gave up on
  // it), which would report its end.
  if (process_)
    process_->disconnect(this);
}

bool engine_process::answers() const {
  for (const auto& path : options_.sockets) {
    QLocalSocket probe;
    probe.connectToServer(path);
    if (probe.waitForConnected(300)) {
      probe.abort();
      return true;
    }
  }
  return false;
}

bool engine_process::launch(QString& why, bool stopped) {
  if (process_)
    return true;
  QStringList args{"--headless", "--config", options_.config_path};
  if (options_.trace)
    args << "--trace";
  if (stopped)
    args << "--start-stopped";
  QString program = options_.program;
  auto problem = QString::fromStdString(platform::capture_privilege_problem());
#ifdef Q_OS_WIN
  // Windows: the engine asks for administrator rights itself (the UAC
  // prompt) and, when the prompt is cancelled, ends with pkexec's code.
  problem.clear();
#endif
  if (!problem.isEmpty()) {
    // Linux: ask for the administrator's password the desktop way (the
    // engine then serves this user's tray: docs/desktop.md).
    auto pkexec = QStandardPaths::findExecutable("pkexec");
    if (pkexec.isEmpty()) {
      why = problem;
      return false;
    }
    args.prepend(program);
    program = pkexec;
  }
  // The config is created as this user, before a root engine could.
  config::config_file file{options_.config_path.toStdString()};
  if (file.load().outcome == config::config_file::status::missing)
    file.save(config::settings{});
  Q_EMIT said(QStringLiteral("starting the engine: %1 %2")
                  .arg(program, args.join(' ')));
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::MergedChannels);
  connect(process_, &QProcess::readyRead, this, [this] {
    auto piece = process_->readAll();
    std::fwrite(piece.constData(), 1, static_cast<size_t>(piece.size()),
                stderr);
    output_ += piece;
    if (output_.size() > 8192)
      output_.remove(0, output_.size() - 8192);
  });
  connect(
      process_, QOverload<int, QProcess::ExitStatus>::of(&QProcess::finished),
      this, [this](int code, QProcess::ExitStatus) {
        process_->deleteLater();
        process_ = nullptr;
        QString reason;
        if (code == 126 || code == 127) {
          reason = tr("Drover needs administrator rights to capture "
                      "traffic, and the request was cancelled or "
                      "refused. Choose Start to ask again.");
        } else {
          auto lines
              = QString::fromLocal8Bit(output_).split('\n', Qt::SkipEmptyParts);
          reason = tr("The engine stopped (exit code %1)%2")
                       .arg(code)
                       .arg(lines.isEmpty() ? QString{}
                                            : ": " + lines.back().trimmed());
        }
        output_.clear();
        Q_EMIT ended(reason);
      });
  process_->start(program, args);
  return true;
}

void engine_process::terminate() {
  if (process_)
    process_->terminate();
}

} // namespace drover::tray
