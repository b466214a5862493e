#pragma once

// HTTP(S) GET for the update check, one implementation per OS: Qt's
// network access on Linux (Debian's Qt has TLS through OpenSSL), WinHTTP on
// Windows (the static Qt for mingw has no TLS; WinHTTP uses the system's,
// its certificates and its proxy settings). Redirects are followed, never
// from HTTPS to HTTP. The answer arrives on the caller's thread.

#include <chrono>
#include <functional>

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QUrl>

namespace drover::tray {

struct http_answer {
  bool ok = false; // a 200 with the whole body within the limit
  QByteArray body; // when ok
  QString error;   // otherwise, a sentence ("…timed out after 15 s")
};

class http_client : public QObject {
  Q_OBJECT

public:
  explicit http_client(QObject* parent = nullptr);
  ~http_client() override;

  /// GETs `url`: at most `max_bytes` of body, all within `timeout`.
  void get(const QUrl& url, qint64 max_bytes, std::chrono::seconds timeout,
           std::function<void(const http_answer&)> done);

private:
  class impl;
  impl* impl_;
};

} // namespace drover::tray
