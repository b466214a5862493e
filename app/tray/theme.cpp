#include "app/tray/theme.hpp"

#include <QFontDatabase>
#include <QPalette>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>

namespace drover::tray {

namespace {

struct original_look {
  QString style;
  QPalette palette;
  bool known = false;
};

original_look& original() {
  static original_look o;
  return o;
}

void remember(QApplication& app) {
  auto& o = original();
  if (o.known)
    return;
  o.style = app.style()->objectName();
  o.palette = app.palette();
  o.known = true;
}

// Fusion's colours for a dark window: text readable at every role,
// selection and links in the tray's blue.
QPalette dark_palette() {
  QPalette p;
  QColor window{"#2b2b2b"}, base{"#1e1e1e"}, text{"#e6e6e6"},
      disabled{"#7a7a7a"}, accent{"#3d8ee6"};
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, window);
  p.setColor(QPalette::ToolTipBase, base);
  p.setColor(QPalette::ToolTipText, text);
  p.setColor(QPalette::PlaceholderText, disabled);
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, QColor{"#353535"});
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::BrightText, Qt::white);
  p.setColor(QPalette::Light, QColor{"#3c3c3c"});
  p.setColor(QPalette::Midlight, QColor{"#333333"});
  p.setColor(QPalette::Mid, QColor{"#5a5a5a"});
  p.setColor(QPalette::Dark, QColor{"#1a1a1a"});
  p.setColor(QPalette::Shadow, Qt::black);
  p.setColor(QPalette::Highlight, accent);
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::Link, accent);
  for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
    p.setColor(QPalette::Disabled, role, disabled);
  return p;
}

// What "auto" means here: Windows says whether apps should be dark; any
// other desktop has already given Qt its palette.
bool system_prefers_dark() {
#ifdef _WIN32
  QSettings personalize{"HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\"
                        "CurrentVersion\\Themes\\Personalize",
                        QSettings::NativeFormat};
  return personalize.value("AppsUseLightTheme", 1).toInt() == 0;
#else
  return false; // the desktop's palette, dark or light, stays as it is
#endif
}

} // namespace

void apply_theme(QApplication& app, config::ui_theme theme) {
  remember(app);
  auto& o = original();
  bool dark
      = theme == config::ui_theme::dark
        || (theme == config::ui_theme::automatic && system_prefers_dark());
  if (dark) {
    if (app.style()->objectName().compare("fusion", Qt::CaseInsensitive) != 0)
      app.setStyle(QStyleFactory::create("Fusion"));
    app.setPalette(dark_palette());
  } else {
    if (app.style()->objectName().compare(o.style, Qt::CaseInsensitive) != 0)
      app.setStyle(QStyleFactory::create(o.style));
    app.setPalette(theme == config::ui_theme::light
                       ? app.style()->standardPalette()
                       : o.palette);
  }
  app.setProperty("drover_dark", dark);
}

bool dark_theme_in_force(const QApplication& app) {
  return app.property("drover_dark").toBool();
}

void apply_platform_font(QApplication& app) {
#ifdef _WIN32
  // One family at one size: Segoe UI when the system has it (wine has
  // not), else the family Qt chose, so no widget differs.
  auto family = QFontDatabase{}.families().contains(QStringLiteral("Segoe UI"))
                    ? QStringLiteral("Segoe UI")
                    : app.font().family();
  app.setFont(QFont{family, 9});
#else
  (void)app;
#endif
}

} // namespace drover::tray
