#pragma once

// The tray's widgets in-process on Qt's offscreen platform (minimal under
// wine): the one QApplication and the helpers the widget tests share
// (tray_widgets_test.cpp, tray_settings_test.cpp).

#include <gtest/gtest.h>

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStyle>
#include <QSysInfo>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QTreeWidget>

#include <thread>

#include "app/tray/check_page.hpp"
#include "app/tray/engine_link.hpp"
#include "app/tray/main_window.hpp"
#include "app/tray/settings_page.hpp"
#include "app/tray/single_instance.hpp"
#include "app/tray/theme.hpp"
#include "config/parse.hpp"

namespace drover::test::tray_world {

inline QApplication& app() {
  static int argc = 1;
  static char name[] = "tray_widgets_test";
  static char* argv[] = {name, nullptr};
#ifdef _WIN32
  // Qt's offscreen platform needs FreeType on Windows, which the tray's
  // Qt build leaves out; the minimal one draws nothing either.
  qputenv("QT_QPA_PLATFORM", "minimal");
#else
  qputenv("QT_QPA_PLATFORM", "offscreen");
#endif
  // Never destroyed: torn down among the static destructors, after Qt's
  // own global statics, it crashed under wine (in Qt's brush cache).
  static auto* a = new QApplication{argc, argv};
  return *a;
}

template<class W>
W* field(QWidget& page, const char* name) {
  auto* w = page.findChild<W*>(name);
  EXPECT_NE(w, nullptr) << name;
  return w;
}

inline QByteArray valid_config() {
  config::settings s;
  s.proxies[0].host = "10.0.0.1";
  s.proxies[0].port = 1080;
  return QByteArray::fromStdString(config::serialize(s));
}

} // namespace drover::test::tray_world
