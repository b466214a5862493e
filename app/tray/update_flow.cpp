#include "app/tray/update_flow.hpp"

#include <QCoreApplication>
#include <QDesktopServices>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTimer>

#include "app/version.hpp"
#include "config/config_file.hpp"

namespace drover::tray {

namespace {

net::ed25519_public_key built_in_key() {
  // Checked when the build made it (app/CMakeLists.txt).
  return net::release::parse_public_key(drover::update_key)
      .value_or(net::ed25519_public_key{});
}

QString version_text(const update_offer& o) {
  return QString::fromStdString(o.version.text());
}

} // namespace

bool installed_copy(const QString& program) {
  return QFileInfo::exists(
      QFileInfo{program}.dir().filePath(QStringLiteral("Uninstall.exe")));
}

QString update_folder() {
  return QDir{QStandardPaths::writableLocation(QStandardPaths::TempLocation)}
      .filePath(QStringLiteral("Drover-update"));
}

update_flow::update_flow(QMenu& menu, QAction* before, update_hooks hooks,
                         QString running_version, QString program,
                         QObject* parent)
    : QObject(parent), updater_(built_in_key(), running_version),
      hooks_(std::move(hooks)), program_(std::move(program)) {
#ifdef Q_OS_WIN
  installs_ = installed_copy(program_);
#endif
  action_ = new QAction(this);
  menu.insertAction(before, action_);
  connect(action_, &QAction::triggered, this, &update_flow::act);
  reset_action();
#ifdef Q_OS_WIN
  // What an earlier update left: the helper's copy and any download (in
  // this user's own %TEMP%; Linux downloads nothing, and a shared /tmp is
  // no place to remove a folder by name).
  QDir{update_folder()}.removeRecursively();
#endif
  connect(&updater_, &updater::newer, this, &update_flow::offer);
  connect(&updater_, &updater::up_to_date, this, [this](const QString& v) {
    reset_action();
    if (asked_)
      hooks_.tell(tr("Drover %1 is the latest version.").arg(v),
                  QSystemTrayIcon::Information);
  });
  connect(&updater_, &updater::failed, this, [this](const QString& why) {
    reset_action();
    // A startup check that cannot reach the server stays quiet but for
    // the log: offline is normal.
    hooks_.tell(why,
                asked_ ? QSystemTrayIcon::Warning : QSystemTrayIcon::NoIcon);
  });
  connect(&updater_, &updater::ready, this, &update_flow::hand_over);
}

void update_flow::reset_action() {
  action_->setEnabled(true);
  if (!offer_) {
    action_->setText(tr("Check for updates…"));
    return;
  }
  action_->setText(
      installs_ ? tr("Install Drover %1…").arg(version_text(*offer_))
                : tr("Drover %1 is available…").arg(version_text(*offer_)));
}

void update_flow::configure(const QString& forgejo_repo,
                            bool check_on_startup) {
  repo_ = forgejo_repo;
  if (configured_)
    return;
  configured_ = true;
  if (check_on_startup)
    QTimer::singleShot(5000, this, [this] { check(false); });
}

void update_flow::configure_from_file(const QString& config_path) {
  config::config_file file{config_path.toStdString()};
  auto outcome = file.load().outcome;
  if (outcome != config::config_file::status::loaded
      && outcome != config::config_file::status::missing)
    return; // a broken file: the engine's answer says more
  const auto& update = file.current().update; // missing: the defaults
  configure(QString::fromStdString(update.forgejo_repo),
            update.check_on_startup);
}

void update_flow::tell_outcome(const QString& outcome) {
  if (outcome.startsWith("installed "))
    hooks_.tell(tr("Drover was updated to %1.").arg(outcome.mid(10)),
                QSystemTrayIcon::Information);
  else if (!outcome.isEmpty())
    hooks_.tell(tr("The update was not installed: %1")
                    .arg(outcome.mid(outcome.indexOf(':') + 1).trimmed()),
                QSystemTrayIcon::Warning);
}

void update_flow::check(bool asked) {
  if (updater_.busy())
    return;
  asked_ = asked;
  action_->setText(tr("Checking for updates…"));
  action_->setEnabled(false);
  updater_.check(repo_);
}

void update_flow::offer(const update_offer& o) {
  offer_ = o;
  reset_action();
#ifdef Q_OS_WIN
  if (installs_) {
    hooks_.tell(tr("Drover %1 is available: choose \"Install Drover %1…\" "
                   "in the menu.")
                    .arg(version_text(o)),
                QSystemTrayIcon::Information);
    return;
  }
  // Not installed by the installer (no Uninstall.exe beside it): the
  // installer would make this folder an installation.
  hooks_.tell(tr("Drover %1 is available: %2 on %3 (this copy of Drover "
                 "is not installed, so it does not update itself)")
                  .arg(version_text(o), o.asset_name, o.page.toString()),
              QSystemTrayIcon::Information);
#else
  hooks_.tell(tr("Drover %1 is available: %2 on %3")
                  .arg(version_text(o), o.asset_name, o.page.toString()),
              QSystemTrayIcon::Information);
#endif
}

void update_flow::act() {
  if (!offer_) {
    check(true);
    return;
  }
  if (!installs_) {
    QDesktopServices::openUrl(offer_->page);
    return;
  }
  asked_ = true;
  action_->setText(tr("Downloading Drover %1…").arg(version_text(*offer_)));
  action_->setEnabled(false);
  updater_.download(*offer_, update_folder());
}

void update_flow::hand_over(const QString& installer, const update_offer& o) {
  // (Windows only: only its downloads get here.) The helper is a copy of
  // this program under another name: the installer ends every drover.exe,
  // the helper must outlive that.
  QString helper
      = QDir{update_folder()}.filePath(QStringLiteral("drover-update.exe"));
  QFile::remove(helper);
  QStringList args{"finish-update",
                   "--installer",
                   QDir::toNativeSeparators(installer),
                   "--sha256",
                   o.sha256,
                   "--to-version",
                   version_text(o),
                   "--restart",
                   QDir::toNativeSeparators(program_),
                   "--wait-pid",
                   QString::number(QCoreApplication::applicationPid())};
  if (hooks_.engine_stopped())
    args << "--stopped";
  if (!QFile::copy(program_, helper)
      || !QProcess::startDetached(helper, args)) {
    QFile::remove(installer);
    reset_action();
    hooks_.tell(tr("The update to %1 could not start its installer (%2): "
                   "download it from %3")
                    .arg(version_text(o), helper, o.page.toString()),
                QSystemTrayIcon::Warning);
    return;
  }
  hooks_.tell(tr("Installing Drover %1: Drover stops and starts again.")
                  .arg(version_text(o)),
              QSystemTrayIcon::Information);
  hooks_.quit();
}

} // namespace drover::tray
