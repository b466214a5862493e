#pragma once

// One tray per user: a second launch raises the first one's window and
// exits 0. A lock file decides who is first (no race between two launches
// at the same moment; a crashed first instance's lock is taken over); the
// first listens on a local socket for "show" from later launches.

#include <QLocalServer>
#include <QLockFile>
#include <QObject>

#include <memory>

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
  QString socket_;
  std::unique_ptr<QLockFile> lock_;
  QLocalServer server_;
  QString error_;
};

} // namespace drover::tray
