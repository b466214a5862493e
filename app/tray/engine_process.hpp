#pragma once

// The engine as a process, apart from the icon that shows it (as
// qBittorrent keeps its DesktopIntegration apart from the session): finds
// an engine that answers on a control socket, or starts one (on Linux
// through pkexec when this user may not capture), keeps the tail of its
// output, and says why an engine it started ended, in words a user can act
// on.

#include <QObject>
#include <QProcess>
#include <QStringList>

namespace drover::tray {

class engine_process : public QObject {
  Q_OBJECT

public:
  struct options {
    QString program;     // this executable, absolute
    QString config_path; // the config the engine it starts uses
    bool trace = false;  // start the engine with --trace
    QStringList sockets; // where a running engine answers, in order
  };

  explicit engine_process(options o, QObject* parent = nullptr);
  ~engine_process() override;

  /// True when an engine answers on one of the sockets.
  bool answers() const;

  /// Starts an engine (unless this tray's runs already); `stopped`: one
  /// that waits for Start instead of capturing at once. False, with `why`,
  /// when it cannot be started at all.
  bool launch(QString& why, bool stopped = false);

  /// Whether an engine this tray started runs.
  bool ours() const { return process_ != nullptr; }

  /// Ends the engine this tray started without asking it (when the
  /// control channel is down).
  void terminate();

Q_SIGNALS:
  /// One line for the tray's log ("starting the engine: ...").
  void said(const QString& line);
  /// The engine this tray started ended: why, for the user.
  void ended(const QString& why);

private:
  options options_;
  QProcess* process_ = nullptr;
  QByteArray output_; // its last 8 KiB
};

} // namespace drover::tray
