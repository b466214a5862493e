#include "app/tray/http_client.hpp"

#include <memory>

#include <QCoreApplication>
#include <QPointer>
#include <QTimer>

#ifdef Q_OS_WIN
#  include <thread>

#  include <windows.h>
#  include <winhttp.h>
#else
#  include <QNetworkAccessManager>
#  include <QNetworkReply>
#  include <QNetworkRequest>
#endif

namespace drover::tray {

namespace {

QString timed_out(const QUrl& url, std::chrono::seconds timeout) {
  return QStringLiteral("%1 did not answer within %2 s")
      .arg(url.host())
      .arg(timeout.count());
}

QString too_large(const QUrl& url, qint64 max_bytes) {
  return QStringLiteral("%1 sent more than %2 bytes for %3")
      .arg(url.host())
      .arg(max_bytes)
      .arg(url.path());
}

} // namespace

#ifndef Q_OS_WIN

class http_client::impl {
public:
  QNetworkAccessManager manager;
};

http_client::http_client(QObject* parent) : QObject(parent), impl_(new impl) {}

http_client::~http_client() {
  delete impl_;
}

void http_client::get(const QUrl& url, qint64 max_bytes,
                      std::chrono::seconds timeout,
                      std::function<void(const http_answer&)> done) {
  QNetworkRequest request{url};
  request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                       QNetworkRequest::NoLessSafeRedirectPolicy);
  request.setMaximumRedirectsAllowed(5);
  request.setHeader(QNetworkRequest::UserAgentHeader, "Drover");
  QNetworkReply* reply = impl_->manager.get(request);
  auto answer = std::make_shared<http_answer>();
  auto* timer = new QTimer(reply);
  timer->setSingleShot(true);
  connect(timer, &QTimer::timeout, reply, [reply, answer, url, timeout] {
    answer->error = timed_out(url, timeout);
    reply->abort();
  });
  timer->start(std::chrono::milliseconds{timeout});
  connect(reply, &QNetworkReply::downloadProgress, reply,
          [reply, answer, url, max_bytes](qint64 received, qint64) {
            if (received > max_bytes && answer->error.isEmpty()) {
              answer->error = too_large(url, max_bytes);
              reply->abort();
            }
          });
  connect(
      reply, &QNetworkReply::finished, this,
      [reply, answer, url, max_bytes, done = std::move(done)] {
        reply->deleteLater();
        int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute)
                         .toInt();
        if (!answer->error.isEmpty()) {
          // Ours: a timeout or a body too large.
        } else if (reply->error() != QNetworkReply::NoError && status == 0) {
          answer->error
              = QStringLiteral("%1: %2").arg(url.host(), reply->errorString());
        } else if (status != 200) {
          answer->error = QStringLiteral("%1 answered %2 for %3")
                              .arg(url.host())
                              .arg(status)
                              .arg(url.path());
        } else {
          answer->body = reply->readAll();
          if (answer->body.size() > max_bytes) {
            answer->error = too_large(url, max_bytes);
            answer->body.clear();
          } else {
            answer->ok = true;
          }
        }
        done(*answer);
      });
}

#else

// WinHTTP's synchronous calls on a thread of their own; the answer is
// handed back to this object's thread. A context gone by then (the tray
// quit) drops it.
class http_client::impl {};

http_client::http_client(QObject* parent) : QObject(parent), impl_(nullptr) {}

http_client::~http_client() = default;

namespace {

QString win_error(const QUrl& url, DWORD code) {
  if (code == ERROR_WINHTTP_TIMEOUT)
    return QString{};
  if (code == ERROR_WINHTTP_CANNOT_CONNECT)
    return QStringLiteral("cannot connect to %1").arg(url.host());
  if (code == ERROR_WINHTTP_NAME_NOT_RESOLVED)
    return QStringLiteral("the name %1 does not resolve").arg(url.host());
  if (code == ERROR_WINHTTP_SECURE_FAILURE)
    return QStringLiteral("%1's certificate is not trusted").arg(url.host());
  return QStringLiteral("%1: WinHTTP error %2").arg(url.host()).arg(code);
}

http_answer fetch(const QUrl& url, qint64 max_bytes,
                  std::chrono::seconds timeout) {
  http_answer a;
  auto fail = [&](DWORD code) {
    a.error = win_error(url, code);
    if (a.error.isEmpty())
      a.error = timed_out(url, timeout);
    return a;
  };
  HINTERNET session
      = WinHttpOpen(L"Drover", WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY,
                    WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
  if (session == nullptr) // older Windows 10: the default proxy instead
    session = WinHttpOpen(L"Drover", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
                          WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
  if (session == nullptr)
    return fail(GetLastError());
  std::unique_ptr<void, decltype(&WinHttpCloseHandle)> session_guard{
      session, WinHttpCloseHandle};
  int ms = static_cast<int>(timeout.count() * 1000);
  WinHttpSetTimeouts(session, ms, ms, ms, ms);
  auto host = url.host().toStdWString();
  auto port = static_cast<INTERNET_PORT>(
      url.port(url.scheme() == "https" ? 443 : 80));
  HINTERNET connection = WinHttpConnect(session, host.c_str(), port, 0);
  if (connection == nullptr)
    return fail(GetLastError());
  std::unique_ptr<void, decltype(&WinHttpCloseHandle)> connection_guard{
      connection, WinHttpCloseHandle};
  auto path = url.path(QUrl::FullyEncoded);
  if (url.hasQuery())
    path += '?' + url.query(QUrl::FullyEncoded);
  auto wpath = path.toStdWString();
  HINTERNET request
      = WinHttpOpenRequest(connection, L"GET", wpath.c_str(), nullptr,
                           WINHTTP_NO_REFERER, WINHTTP_DEFAULT_ACCEPT_TYPES,
                           url.scheme() == "https" ? WINHTTP_FLAG_SECURE : 0);
  if (request == nullptr)
    return fail(GetLastError());
  std::unique_ptr<void, decltype(&WinHttpCloseHandle)> request_guard{
      request, WinHttpCloseHandle};
  // WinHTTP follows redirects itself, never from HTTPS to HTTP.
  if (!WinHttpSendRequest(request, WINHTTP_NO_ADDITIONAL_HEADERS, 0,
                          WINHTTP_NO_REQUEST_DATA, 0, 0, 0)
      || !WinHttpReceiveResponse(request, nullptr))
    return fail(GetLastError());
  DWORD status = 0, size = sizeof status;
  WinHttpQueryHeaders(
      request, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
      WINHTTP_HEADER_NAME_BY_INDEX, &status, &size, WINHTTP_NO_HEADER_INDEX);
  if (status != 200) {
    a.error = QStringLiteral("%1 answered %2 for %3")
                  .arg(url.host())
                  .arg(status)
                  .arg(url.path());
    return a;
  }
  auto started = std::chrono::steady_clock::now();
  char buf[16384];
  for (;;) {
    DWORD got = 0;
    if (!WinHttpReadData(request, buf, sizeof buf, &got))
      return fail(GetLastError());
    if (got == 0)
      break;
    a.body.append(buf, static_cast<int>(got));
    if (a.body.size() > max_bytes) {
      a.body.clear();
      a.error = too_large(url, max_bytes);
      return a;
    }
    if (std::chrono::steady_clock::now() - started > timeout)
      return fail(ERROR_WINHTTP_TIMEOUT);
  }
  a.ok = true;
  return a;
}

} // namespace

void http_client::get(const QUrl& url, qint64 max_bytes,
                      std::chrono::seconds timeout,
                      std::function<void(const http_answer&)> done) {
  QPointer<http_client> self{this};
  std::thread{[self, url, max_bytes, timeout, done = std::move(done)] {
    http_answer a = fetch(url, max_bytes, timeout);
    QMetaObject::invokeMethod(
        QCoreApplication::instance(),
        [self, a, done] {
          if (self)
            done(a);
        },
        Qt::QueuedConnection);
  }}.detach();
}

#endif

} // namespace drover::tray
