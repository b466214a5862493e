#pragma once

// Updates (docs/updates.md): asks the Forgejo releases API of
// `[update] forgejo_repo` for the latest release and compares it with this
// version; on Windows downloads the installer with the release's
// SHA256SUMS and its signature, and hands the installer on only when the
// signature is the release key built into Drover and the installer's
// SHA-256 is the one the signed list gives its name (update_install does
// the rest). The release server is hostile until then: its JSON, its
// lists and its files are bounded and checked.

#include <chrono>
#include <optional>

#include <QObject>
#include <QString>
#include <QUrl>

#include "app/tray/http_client.hpp"
#include "net/ed25519.hpp"
#include "net/release.hpp"

namespace drover::tray {

/// A release newer than this one.
struct update_offer {
  net::release::version version;
  QUrl page;            // the release's web page
  QString asset_name;   // the file for this system (installer or .deb)
  QUrl asset;           // where it is, or empty when the release lacks it
  QUrl sums, signature; // SHA256SUMS and SHA256SUMS.sig
  QString sha256;       // the asset's, from the signed list, once checked
};

/// The API address of `forgejo_repo` ("host[:port]/owner/repo", HTTPS; an
/// explicit "http://" is kept for a local server): empty, with `error`
/// saying why, when it is not such a name.
QUrl latest_release_url(const QString& forgejo_repo, QString& error);

/// Forgejo's answer for the latest release, read into an offer when it is
/// newer than `running`; nothing otherwise. `error` is set when the
/// answer is not a release (and stays empty for the same or an older one).
std::optional<update_offer>
read_latest_release(const QByteArray& json,
                    const net::release::version& running, QString& error);

/// The asset this system installs from a release of `v`.
QString asset_name_for_this_system(const net::release::version& v);

class updater : public QObject {
  Q_OBJECT

public:
  updater(const net::ed25519_public_key& release_key, QString running_version,
          QObject* parent = nullptr);

  /// How long each answer may take (the installer has its own).
  void set_timeouts(std::chrono::seconds api, std::chrono::seconds installer);

  /// Asks for the latest release: newer(), up_to_date() or failed().
  void check(const QString& forgejo_repo);

  /// Downloads the offer's asset into `folder` and checks it: ready() with
  /// its path, or failed() (and nothing left in `folder`).
  void download(const update_offer& offer, const QString& folder);

  bool busy() const { return busy_; }

  /// The largest answers read: the release's JSON, the list, the file.
  static constexpr qint64 max_json = 1 << 20;
  static constexpr qint64 max_installer = 512LL << 20;

Q_SIGNALS:
  void newer(const drover::tray::update_offer& offer);
  void up_to_date(const QString& latest);
  void ready(const QString& path, const drover::tray::update_offer& offer);
  void failed(const QString& why);

private:
  void fail(const QString& why);
  void verify_and_save(const update_offer& offer, const QString& folder,
                       const QByteArray& sums, const QByteArray& signature,
                       const QByteArray& file);

  net::ed25519_public_key key_;
  net::release::version running_;
  http_client http_;
  std::chrono::seconds api_timeout_{20};
  std::chrono::seconds installer_timeout_{600};
  bool busy_ = false;
};

} // namespace drover::tray

Q_DECLARE_METATYPE(drover::tray::update_offer)
