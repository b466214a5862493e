#include "app/tray/autostart.hpp"

#ifdef Q_OS_WIN
#  include "actors/platform/startup_entry.hpp"
#endif

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QStandardPaths>

namespace drover::tray {

namespace {

// The Desktop Entry spec's quoting for an Exec argument.
QString quoted(const QString& arg) {
  static const QString plain = QStringLiteral(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+");
  bool simple = !arg.isEmpty();
  for (QChar c : arg)
    simple = simple && plain.contains(c);
  if (simple)
    return arg;
  QString out = "\"";
  for (QChar c : arg) {
    if (c == '"' || c == '`' || c == '$' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
  // In the file, every backslash is itself escaped once more.
  return out.replace("\\", "\\\\");
}

QString value_of(const QString& text, const QString& key) {
  for (const auto& raw : text.split('\n')) {
    auto line = raw.trimmed();
    if (line.startsWith(key + '=') || line.startsWith(key + " ="))
      return line.mid(line.indexOf('=') + 1).trimmed();
  }
  return {};
}

} // namespace

QString autostart_entry(const QString& program) {
  return QStringLiteral("[Desktop Entry]\n"
                        "Type=Application\n"
                        "Name=Drover\n"
                        "Comment=Send Discord through your SOCKS5 proxy\n"
                        "Exec=%1\n"
                        "Icon=drover\n"
                        "Terminal=false\n"
                        "Categories=Network;\n"
                        "X-GNOME-Autostart-enabled=true\n")
      .arg(quoted(program));
}

bool entry_enabled(const QString& text) {
  if (value_of(text, "Hidden").compare("true", Qt::CaseInsensitive) == 0)
    return false;
  if (value_of(text, "X-GNOME-Autostart-enabled")
          .compare("false", Qt::CaseInsensitive)
      == 0)
    return false;
  return !value_of(text, "Exec").isEmpty();
}

QString entry_program(const QString& text) {
  auto exec = value_of(text, "Exec");
  if (!exec.startsWith('"'))
    return exec.section(' ', 0, 0);
  // Undo quoted(): first the file-level escaping, then the argument's.
  QString unescaped = exec;
  unescaped.replace("\\\\", "\\");
  QString out;
  for (int i = 1; i < unescaped.size(); ++i) {
    QChar c = unescaped[i];
    if (c == '\\' && i + 1 < unescaped.size()) {
      out += unescaped[++i];
      continue;
    }
    if (c == '"')
      break;
    out += c;
  }
  return out;
}

autostart::autostart(QString entry_path, QString program)
    : path_(std::move(entry_path)), program_(std::move(program)) {}

#ifdef Q_OS_WIN
// Windows: the Run value and Explorer's StartupApproved switch, through
// the platform layer (actors/platform/startup_entry.hpp).

QString autostart::default_entry_path() {
  return QStringLiteral(
      "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
      "\\Drover");
}

bool autostart::enabled() const {
  return platform::startup::enabled();
}

QString autostart::set_enabled(bool on) {
  return QString::fromStdString(
      platform::startup::set_enabled(on, program_.toStdWString()));
}

bool autostart::heal() {
  return platform::startup::heal(program_.toStdWString());
}

#else

QString autostart::default_entry_path() {
  return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation)
         + "/autostart/drover.desktop";
}

bool autostart::enabled() const {
  QFile f{path_};
  if (!f.open(QIODevice::ReadOnly))
    return false;
  return entry_enabled(QString::fromUtf8(f.readAll()));
}

QString autostart::set_enabled(bool on) {
  if (!on) {
    if (QFile::exists(path_) && !QFile::remove(path_))
      return QObject::tr("cannot remove %1").arg(path_);
    return {};
  }
  QDir{}.mkpath(QFileInfo{path_}.absolutePath());
  QSaveFile f{path_};
  if (!f.open(QIODevice::WriteOnly))
    return QObject::tr("cannot write %1: %2").arg(path_, f.errorString());
  f.write(autostart_entry(program_).toUtf8());
  if (!f.commit())
    return QObject::tr("cannot write %1: %2").arg(path_, f.errorString());
  return {};
}

bool autostart::heal() {
  QFile f{path_};
  if (!f.open(QIODevice::ReadOnly))
    return false;
  auto text = QString::fromUtf8(f.readAll());
  f.close();
  if (!entry_enabled(text) || entry_program(text) == program_)
    return false;
  return set_enabled(true).isEmpty();
}

#endif

} // namespace drover::tray
