#include "app/tray/single_instance.hpp"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QLocalSocket>
#include <QThread>

namespace drover::tray {

namespace {

#ifdef Q_OS_WIN
// "drover-tray-" and 16 hex digits of the SHA-256 of this executable's
// path, case-folded (Windows paths are): two installs are two trays.
QString install_name() {
  auto path = QDir::toNativeSeparators(QCoreApplication::applicationFilePath())
                  .toLower()
                  .toUtf8();
  auto hash = QCryptographicHash::hash(path, QCryptographicHash::Sha256);
  return "drover-tray-" + QString::fromLatin1(hash.toHex().left(16));
}
#endif

} // namespace

single_instance::single_instance(const QString& dir, QObject* parent)
    : QObject(parent) {
#ifdef Q_OS_WIN
  (void)dir;
  lock_name_ = install_name();
  socket_ = lock_name_;
#else
  QDir{}.mkpath(dir);
  lock_name_ = dir + "/tray.lock";
  socket_ = dir + "/tray.sock";
#endif
  connect(&server_, &QLocalServer::newConnection, this, [this] {
    while (auto* peer = server_.nextPendingConnection()) {
      connect(peer, &QLocalSocket::readyRead, peer, [this, peer] {
        if (peer->readAll().startsWith("show"))
          Q_EMIT show_requested();
        peer->disconnectFromServer();
      });
      connect(peer, &QLocalSocket::disconnected, peer, &QObject::deleteLater);
    }
  });
}

bool single_instance::claim() {
  std::string why;
  lock_ = platform::instance_lock::claim(lock_name_.toStdString(), why);
  if (!lock_ && !why.empty()) {
    error_ = QString::fromStdString(why);
    return false;
  }
  if (lock_) {
    QLocalServer::removeServer(socket_); // a crashed run's leftover
    server_.setSocketOptions(QLocalServer::UserAccessOption);
    if (!server_.listen(socket_))
      error_ = server_.errorString();
    return true;
  }
  // The first instance may still be starting: give it up to 5 s to listen.
  for (int tries = 0; tries < 20; ++tries) {
    QLocalSocket first;
    first.connectToServer(socket_);
    if (first.waitForConnected(250)) {
      first.write("show\n");
      first.waitForBytesWritten(1000);
      // Its "done" is closing the connection once it has read the line.
      // Closing ours first could lose the line: a pipe's unread bytes do
      // not always outlive the writer's end (wine's do not).
      first.waitForDisconnected(2000);
      return false;
    }
    QThread::msleep(250);
  }
  error_ = tr("another Drover tray holds the lock in %1 but does not answer "
              "on %2")
               .arg(QFileInfo{socket_}.absolutePath(), socket_);
  return false;
}

} // namespace drover::tray
