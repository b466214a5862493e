#include "app/tray/single_instance.hpp"

#include <QDir>
#include <QFileInfo>
#include <QLocalSocket>
#include <QThread>

namespace drover::tray {

single_instance::single_instance(const QString& dir, QObject* parent)
    : QObject(parent), socket_(dir + "/tray.sock"),
      lock_(std::make_unique<QLockFile>(dir + "/tray.lock")) {
  QDir{}.mkpath(dir);
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
  // A lock whose owner died is stale and taken over.
  lock_->setStaleLockTime(0);
  if (lock_->tryLock(0)) {
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
      first.waitForReadyRead(250); // its "bye" is closing the connection
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
