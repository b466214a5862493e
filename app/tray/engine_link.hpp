#pragma once

// The tray's line to the engine: the control socket (a Unix socket on
// Linux, a named pipe on Windows; QLocalSocket is both). One connection
// follows the engine (`follow json`: every event as it happens, the
// counters each second); each command is a connection of its own. The tray
// is thereby one more engine listener: the control server subscribes an
// actor for this connection to the supervisor.

#include <functional>

#include <QLocalSocket>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include "messages/types.hpp"

namespace drover::tray {

class engine_link : public QObject {
  Q_OBJECT

public:
  /// `paths`: where to look for the engine's socket, in order.
  explicit engine_link(QStringList paths, QObject* parent = nullptr);
  ~engine_link() override;

  /// Starts following; while no engine answers, tries again every 250 ms.
  void start();

  bool is_up() const { return up_; }

  /// The socket the engine answered on.
  QString path() const { return path_; }

  using reply_handler = std::function<void(bool ok, const QByteArray&)>;

  /// Sends one command (without its newline) and hands the whole answer to
  /// `done`; ok is false when no engine answered within 10 s.
  void request(const QByteArray& command, reply_handler done,
               int timeout_ms = 10000);

Q_SIGNALS:
  void connected();
  void disconnected();
  void event_arrived(const drover::engine_event& e);
  void stats_arrived(const drover::stats_snapshot& s, quint64 uptime_seconds);
  /// A line that is not what the engine sends (logged, never fatal).
  void garbled(const QString& why);
  /// What answers at the engine's address is not Drover (Windows: another
  /// program holds the pipe's name); said once per reason, retried still.
  void refused(const QString& why);

private:
  void try_next();
  void on_line(const QByteArray& line);

  QStringList paths_;
  int next_ = 0;
  QString path_;
  QTimer retry_; // before follow_: outlives it
  QLocalSocket follow_;
  QByteArray pending_;
  QString refusal_; // the last refusal said, so it is said once
  bool up_ = false;
};

} // namespace drover::tray
