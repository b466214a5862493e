#pragma once

// One tray per user (on Windows: per user and install folder): a second
// launch raises the first one's window and exits 0. An instance lock
// decides who is first (no race between two launches at the same moment;
// the OS releases a crashed instance's lock): a lock file on Linux, a
// named mutex named after the SHA-256 of the executable's path on Windows.
// The first listens on a local socket (a named pipe on Windows) for "show"
// from later launches.

#include <QLocalServer>
#include <QObject>

#include <memory>

#include "actors/platform/instance_lock.hpp"

namespace drover::tray {

class single_instance : public QObject {
  Q_OBJECT

public:
  /// `dir`: a folder private to this user (the runtime folder).
  explicit single_instance(const QString& dir, QObject* parent = nullptr);

  /// True: this is the first instance (it now listens). False: another one
  /// runs and was asked to show its window.
  bool claim();

  /// Why claim() could neither become first nor reach the first.
  QString error() const { return error_; }

Q_SIGNALS:
  void show_requested();

private:
  QString lock_name_;
  QString socket_;
  std::unique_ptr<platform::instance_lock> lock_;
  QLocalServer server_;
  QString error_;
};

} // namespace drover::tray
