#include "app/tray/engine_link.hpp"

#include <memory>

#include "actors/platform/sockets.hpp"
#include "app/tray/wire.hpp"

namespace drover::tray {

namespace {

bool is_drover(const QLocalSocket& socket, QString& why) {
  std::string reason;
  if (platform::local_server_is_drover(
          static_cast<platform::socket_handle>(socket.socketDescriptor()),
          reason))
    return true;
  why = QString::fromStdString(reason);
  return false;
}

} // namespace

engine_link::engine_link(QStringList paths, QObject* parent)
    : QObject(parent), paths_(std::move(paths)) {
  retry_.setSingleShot(true);
  retry_.setInterval(250);
  connect(&retry_, &QTimer::timeout, this, &engine_link::try_next);
  connect(&follow_, &QLocalSocket::connected, this, [this] {
    // Nothing is written to an engine that is not Drover (a program that
    // took the pipe's name first, on Windows).
    if (QString why; !is_drover(follow_, why)) {
      follow_.abort();
      if (why != refusal_)
        Q_EMIT refused(refusal_ = why);
      return;
    }
    refusal_.clear();
    path_ = follow_.serverName();
    pending_.clear();
    follow_.write("follow json\n");
    up_ = true;
    Q_EMIT connected();
  });
  connect(&follow_, &QLocalSocket::readyRead, this, [this] {
    pending_ += follow_.readAll();
    for (int nl; (nl = pending_.indexOf('\n')) >= 0;) {
      auto line = pending_.left(nl);
      pending_.remove(0, nl + 1);
      on_line(line);
    }
    if (pending_.size() > 1 << 20) { // no line is this long: not our engine
      Q_EMIT garbled(QStringLiteral("a line of over 1 MiB"));
      follow_.abort();
    }
  });
  connect(&follow_, &QLocalSocket::disconnected, this, [this] {
    if (up_) {
      up_ = false;
      Q_EMIT disconnected();
    }
    retry_.start();
  });
  // A failed connect reports its error before the socket is back to
  // Unconnected: look again once the event loop has moved on.
  connect(&follow_, &QLocalSocket::errorOccurred, this,
          [this](QLocalSocket::LocalSocketError) {
            QTimer::singleShot(0, this, [this] {
              if (follow_.state() == QLocalSocket::UnconnectedState
                  && !retry_.isActive())
                retry_.start();
            });
          });
}

engine_link::~engine_link() {
  // Closing the socket emits `disconnected`: no handler may run on a half
  // destroyed link.
  QObject::disconnect(&follow_, nullptr, this, nullptr);
  // Requests still open end unanswered: their handlers belong to objects
  // that may be gone by now.
  for (auto* request :
       findChildren<QLocalSocket*>(QString{}, Qt::FindDirectChildrenOnly))
    request->disconnect();
}

void engine_link::start() {
  try_next();
}

void engine_link::try_next() {
  if (follow_.state() != QLocalSocket::UnconnectedState || paths_.isEmpty())
    return;
  follow_.connectToServer(paths_[next_]);
  next_ = (next_ + 1) % paths_.size();
}

void engine_link::on_line(const QByteArray& line) {
  QString error;
  auto parsed = parse_line(line, &error);
  if (!parsed) {
    Q_EMIT garbled(error);
    return;
  }
  if (parsed->event)
    Q_EMIT event_arrived(*parsed->event);
  if (parsed->stats)
    Q_EMIT stats_arrived(*parsed->stats, parsed->uptime_seconds);
}

void engine_link::request(const QByteArray& command, reply_handler done,
                          int timeout_ms) {
  auto* socket = new QLocalSocket(this);
  auto* deadline = new QTimer(socket);
  auto answer = std::make_shared<QByteArray>();
  // Called exactly once: on the answer, on failure, or at the deadline.
  auto finish = std::make_shared<reply_handler>(std::move(done));
  auto conclude = [socket, answer, finish](bool ok) {
    if (!*finish)
      return;
    auto handler = std::move(*finish);
    *finish = nullptr;
    socket->deleteLater();
    handler(ok, *answer);
  };
  deadline->setSingleShot(true);
  connect(deadline, &QTimer::timeout, socket, [socket, conclude] {
    socket->abort();
    conclude(false);
  });
  connect(socket, &QLocalSocket::connected, socket,
          [socket, command, conclude] {
            if (QString why; !is_drover(*socket, why)) {
              conclude(false); // first: abort() says "disconnected"
              socket->abort();
              return;
            }
            socket->write(command + '\n');
          });
  connect(socket, &QLocalSocket::readyRead, socket,
          [socket, answer] { *answer += socket->readAll(); });
  connect(socket, &QLocalSocket::disconnected, socket,
          [socket, answer, conclude] {
            *answer += socket->readAll();
            conclude(true);
          });
  connect(socket, &QLocalSocket::errorOccurred, socket,
          [socket, conclude](QLocalSocket::LocalSocketError e) {
            if (e != QLocalSocket::PeerClosedError
                && socket->state() == QLocalSocket::UnconnectedState)
              conclude(false);
          });
  deadline->start(timeout_ms);
  socket->connectToServer(path_.isEmpty() ? paths_.value(0) : path_);
}

} // namespace drover::tray
