#include "app/tray/updater.hpp"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSaveFile>

namespace drover::tray {

namespace rel = net::release;

QUrl latest_release_url(const QString& forgejo_repo, QString& error) {
  QString text = forgejo_repo.trimmed();
  QString scheme = QStringLiteral("https");
  if (text.startsWith("https://")) {
    text.remove(0, 8);
  } else if (text.startsWith("http://")) {
    scheme = QStringLiteral("http");
    text.remove(0, 7);
  }
  while (text.endsWith('/'))
    text.chop(1);
  static const QRegularExpression shape{
      R"(^([A-Za-z0-9.-]+(?::[0-9]{1,5})?)((?:/[A-Za-z0-9._-]+)*)/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)$)"};
  auto m = shape.match(text);
  if (!m.hasMatch()) {
    error = QStringLiteral("[update] forgejo_repo \"%1\" is not "
                           "\"host/owner/repository\"")
                .arg(forgejo_repo);
    return {};
  }
  QUrl url{scheme + "://" + m.captured(1) + m.captured(2) + "/api/v1/repos/"
           + m.captured(3) + "/" + m.captured(4) + "/releases/latest"};
  if (!url.isValid()) {
    error = QStringLiteral("[update] forgejo_repo \"%1\" is not an address")
                .arg(forgejo_repo);
    return {};
  }
  return url;
}

QString asset_name_for_this_system(const rel::version& v) {
#ifdef Q_OS_WIN
  return QString::fromStdString(rel::windows_installer_name(v));
#else
  return QString::fromStdString(rel::debian_package_name(v));
#endif
}

namespace {

QUrl web_url(const QJsonValue& v) {
  QUrl url{v.toString(), QUrl::StrictMode};
  if (!url.isValid() || (url.scheme() != "https" && url.scheme() != "http")
      || url.host().isEmpty())
    return {};
  return url;
}

} // namespace

std::optional<update_offer> read_latest_release(const QByteArray& json,
                                                const rel::version& running,
                                                QString& error) {
  QJsonParseError parse_error;
  auto doc = QJsonDocument::fromJson(json, &parse_error);
  if (doc.isNull()) {
    error = QStringLiteral("the release server's answer is not JSON (at "
                           "byte %1: %2)")
                .arg(parse_error.offset)
                .arg(parse_error.errorString());
    return std::nullopt;
  }
  if (!doc.isObject() || !doc.object().value("tag_name").isString()) {
    error = QStringLiteral("the release server's answer is not a release "
                           "(no tag_name)");
    return std::nullopt;
  }
  auto release = doc.object();
  auto tag = release.value("tag_name").toString();
  auto v = rel::parse_version(tag.left(64).toStdString());
  if (!v) {
    error = QStringLiteral("the latest release's tag \"%1\" is not a version "
                           "(like v1.2.3)")
                .arg(tag.left(64));
    return std::nullopt;
  }
  if (release.value("draft").toBool() || release.value("prerelease").toBool()
      || !(running < *v))
    return std::nullopt;
  update_offer offer;
  offer.version = *v;
  offer.page = web_url(release.value("html_url"));
  offer.asset_name = asset_name_for_this_system(*v);
  auto assets = release.value("assets").toArray();
  for (const auto& a : assets) {
    auto o = a.toObject();
    auto name = o.value("name").toString();
    auto url = web_url(o.value("browser_download_url"));
    if (name == offer.asset_name)
      offer.asset = url;
    else if (name == "SHA256SUMS")
      offer.sums = url;
    else if (name == "SHA256SUMS.sig")
      offer.signature = url;
  }
  return offer;
}

updater::updater(const net::ed25519_public_key& release_key,
                 QString running_version, QObject* parent)
    : QObject(parent), key_(release_key) {
  if (auto v = rel::parse_version(running_version.toStdString()))
    running_ = *v;
  qRegisterMetaType<update_offer>();
}

void updater::set_timeouts(std::chrono::seconds api,
                           std::chrono::seconds installer) {
  api_timeout_ = api;
  installer_timeout_ = installer;
}

void updater::fail(const QString& why) {
  busy_ = false;
  Q_EMIT failed(why);
}

void updater::check(const QString& forgejo_repo) {
  if (busy_)
    return;
  QString error;
  QUrl url = latest_release_url(forgejo_repo, error);
  if (url.isEmpty())
    return fail(error);
  busy_ = true;
  http_.get(url, max_json, api_timeout_, [this](const http_answer& a) {
    if (!a.ok)
      return fail(QStringLiteral("cannot ask for updates: %1").arg(a.error));
    QString why;
    auto offer = read_latest_release(a.body, running_, why);
    busy_ = false;
    if (offer)
      Q_EMIT newer(*offer);
    else if (!why.isEmpty())
      Q_EMIT failed(why);
    else
      Q_EMIT up_to_date(QString::fromStdString(running_.text()));
  });
}

void updater::download(const update_offer& offer, const QString& folder) {
  if (busy_)
    return;
  if (offer.asset.isEmpty() || offer.sums.isEmpty()
      || offer.signature.isEmpty())
    return fail(QStringLiteral("the release %1 has no signed %2: download "
                               "it from %3")
                    .arg(QString::fromStdString(offer.version.text()),
                         offer.asset_name, offer.page.toString()));
  busy_ = true;
  // The list, its signature, then the file; each answer bounded.
  http_.get(
      offer.sums, rel::max_sums_size, api_timeout_,
      [this, offer, folder](const http_answer& sums) {
        if (!sums.ok)
          return fail(
              QStringLiteral("cannot download SHA256SUMS: %1").arg(sums.error));
        http_.get(
            offer.signature, rel::max_signature_size, api_timeout_,
            [this, offer, folder, sums](const http_answer& sig) {
              if (!sig.ok)
                return fail(QStringLiteral("cannot download SHA256SUMS.sig: %1")
                                .arg(sig.error));
              http_.get(
                  offer.asset, max_installer, installer_timeout_,
                  [this, offer, folder, sums, sig](const http_answer& file) {
                    if (!file.ok)
                      return fail(QStringLiteral("cannot download %1: %2")
                                      .arg(offer.asset_name, file.error));
                    verify_and_save(offer, folder, sums.body, sig.body,
                                    file.body);
                  });
            });
      });
}

void updater::verify_and_save(const update_offer& offer, const QString& folder,
                              const QByteArray& sums,
                              const QByteArray& signature,
                              const QByteArray& file) {
  std::string error;
  std::string_view sums_text{sums.constData(),
                             static_cast<size_t>(sums.size())};
  if (!rel::verify_sums(
          sums_text,
          {signature.constData(), static_cast<size_t>(signature.size())}, key_,
          error))
    return fail(QStringLiteral("the update %1 was refused: %2")
                    .arg(QString::fromStdString(offer.version.text()),
                         QString::fromStdString(error)));
  auto list = rel::parse_sums(sums_text, error);
  std::optional<net::sha256_digest> digest;
  if (list)
    digest = rel::digest_for(*list, offer.asset_name.toStdString(), error);
  if (!digest)
    return fail(QStringLiteral("the update %1 was refused: %2")
                    .arg(QString::fromStdString(offer.version.text()),
                         QString::fromStdString(error)));
  auto got = net::sha256({file.constData(), static_cast<size_t>(file.size())});
  if (got != *digest)
    return fail(QStringLiteral("the update %1 was refused: %2 is not the "
                               "file the release signed (its SHA-256 is %3, "
                               "the signed list says %4)")
                    .arg(QString::fromStdString(offer.version.text()),
                         offer.asset_name,
                         QString::fromStdString(net::to_hex(got)),
                         QString::fromStdString(net::to_hex(*digest))));
  QDir{}.mkpath(folder);
  QString path = QDir{folder}.filePath(offer.asset_name);
  QSaveFile out{path};
  if (!out.open(QIODevice::WriteOnly) || out.write(file) != file.size()
      || !out.commit())
    return fail(
        QStringLiteral("cannot save %1: %2").arg(path, out.errorString()));
  busy_ = false;
  update_offer checked = offer;
  checked.sha256 = QString::fromStdString(net::to_hex(got));
  Q_EMIT ready(path, checked);
}

} // namespace drover::tray
