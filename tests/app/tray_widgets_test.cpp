// The tray's widgets in-process on Qt's offscreen platform: the Settings
// form refuses a bad value with the config validator's own message and
// hands a valid one on as a complete config file; the window hides to the
// tray instead of closing.

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

using namespace drover;
using namespace drover::tray;

#ifdef __SANITIZE_ADDRESS__
// Qt's platform plugins and the font stack keep caches they never free, and
// the plugins are unloaded before LeakSanitizer reports, so their stacks
// cannot be told apart from ours: no leak check in this GUI test. Every
// other AddressSanitizer check stays on.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}
#endif

namespace {

QApplication& app() {
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

QByteArray valid_config() {
  config::settings s;
  s.proxies[0].host = "10.0.0.1";
  s.proxies[0].port = 1080;
  return QByteArray::fromStdString(config::serialize(s));
}

} // namespace

TEST(tray_settings, fills_the_form_from_the_file) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  EXPECT_EQ(field<QLineEdit>(page, "proxy_host")->text(), "10.0.0.1");
  EXPECT_EQ(field<QSpinBox>(page, "proxy_port")->value(), 1080);
  EXPECT_FALSE(field<QLineEdit>(page, "proxy_login")->isEnabled());
  EXPECT_TRUE(field<QPlainTextEdit>(page, "target_processes")
                  ->toPlainText()
                  .contains("Discord.exe"));
  EXPECT_TRUE(page.has_good_config());
}

TEST(tray_settings, refuses_a_bad_host_with_the_validators_words) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  QSignalSpy saves{&page, &settings_page::save_requested};
  field<QLineEdit>(page, "proxy_host")->setText("proxy host!");
  field<QPushButton>(page, "save_settings")->click();
  EXPECT_EQ(saves.count(), 0);
  // The same words as `drover config check` for the same value.
  config::settings s;
  s.proxies[0].host = "proxy host!";
  auto expected = config::parse(config::serialize(s), "x");
  ASSERT_FALSE(expected.ok());
  EXPECT_EQ(field<QLabel>(page, "settings_message")->text().toStdString(),
            expected.errors.front().message);
}

TEST(tray_settings, refuses_a_login_without_a_password) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  QSignalSpy saves{&page, &settings_page::save_requested};
  field<QCheckBox>(page, "proxy_auth")->setChecked(true);
  field<QLineEdit>(page, "proxy_login")->setText("alice");
  field<QPushButton>(page, "save_settings")->click();
  EXPECT_EQ(saves.count(), 0);
  EXPECT_TRUE(field<QLabel>(page, "settings_message")
                  ->text()
                  .contains("proxy.password"));
}

TEST(tray_settings, a_valid_form_becomes_a_whole_valid_file) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  QSignalSpy saves{&page, &settings_page::save_requested};
  field<QLineEdit>(page, "proxy_host")->setText("proxy.example.net");
  field<QSpinBox>(page, "proxy_port")->setValue(9050);
  field<QCheckBox>(page, "proxy_auth")->setChecked(true);
  field<QLineEdit>(page, "proxy_login")->setText("alice");
  field<QLineEdit>(page, "proxy_password")->setText("s3cret");
  EXPECT_EQ(field<QComboBox>(page, "proxy_type")->currentIndex(), 0);
  auto* spares = field<QSpinBox>(page, "proxy_spare_connections");
  EXPECT_FALSE(spares->isHidden()) << "both OSes keep spares";
  EXPECT_EQ(spares->value(), 4) << "the default";
  EXPECT_TRUE(spares->isEnabled());
  spares->setValue(0);
  field<QComboBox>(page, "proxy_type")->setCurrentIndex(1);
  EXPECT_FALSE(spares->isEnabled()) << "HTTP proxies get no spares";
  EXPECT_TRUE(field<QCheckBox>(page, "proxy_connect_by_name")->isChecked());
  field<QCheckBox>(page, "proxy_connect_by_name")->setChecked(false);
  field<QPlainTextEdit>(page, "target_processes")
      ->setPlainText("Discord\n\n vesktop \n");
  EXPECT_EQ(field<QComboBox>(page, "theme")->currentText(), "Dark")
      << "the default look";
  field<QComboBox>(page, "theme")->setCurrentIndex(2);
  field<QPushButton>(page, "save_settings")->click();
  ASSERT_EQ(saves.count(), 1);
  auto text = saves.at(0).at(0).toByteArray().toStdString();
  auto parsed = config::parse(text, "saved");
  ASSERT_TRUE(parsed.ok()) << config::to_string(parsed.errors);
  EXPECT_EQ(parsed.value->proxies[0].host, "proxy.example.net");
  EXPECT_EQ(parsed.value->proxies[0].port, 9050);
  EXPECT_TRUE(parsed.value->proxies[0].auth);
  EXPECT_EQ(parsed.value->proxies[0].password, "s3cret");
  EXPECT_EQ(parsed.value->proxies[0].type, config::proxy_type::http);
  EXPECT_FALSE(parsed.value->proxies[0].connect_by_name);
  EXPECT_EQ(parsed.value->proxies[0].spare_connections, 0);
  EXPECT_EQ(parsed.value->ui.theme, config::ui_theme::automatic);
  ASSERT_EQ(parsed.value->rules.size(), 1u);
  EXPECT_EQ(parsed.value->rules[0].apps,
            (std::vector<std::string>{"Discord", "vesktop"}));
  page.saved(true, {});
  EXPECT_EQ(page.current().proxies[0].host, "proxy.example.net");
}

// Several proxies: one is added (both get names, which rules choose by),
// a rule is sent through it, a mistake in it is shown on its fields, and
// the file has both.
TEST(tray_settings, a_second_proxy_is_added_and_a_rule_goes_through_it) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  QSignalSpy saves{&page, &settings_page::save_requested};
  auto* choice = field<QComboBox>(page, "proxy_choice");
  auto* through = field<QComboBox>(page, "rule_proxy");
  EXPECT_EQ(choice->count(), 1);
  EXPECT_TRUE(through->isHidden()) << "one proxy: nothing to choose";
  EXPECT_FALSE(field<QPushButton>(page, "proxy_remove")->isEnabled());
  field<QPushButton>(page, "proxy_add")->click();
  ASSERT_EQ(choice->count(), 2);
  EXPECT_EQ(choice->currentIndex(), 1);
  EXPECT_EQ(choice->itemText(0), "proxy 1");
  EXPECT_EQ(field<QLineEdit>(page, "proxy_name")->text(), "proxy 2");
  field<QLineEdit>(page, "proxy_name")->setText("work");
  Q_EMIT field<QLineEdit>(page, "proxy_name")->editingFinished();
  EXPECT_EQ(choice->itemText(1), "work");
  EXPECT_FALSE(through->isHidden());
  ASSERT_EQ(through->count(), 2);
  through->setCurrentIndex(1);
  // Its host is still empty: refused, and shown on the second proxy.
  choice->setCurrentIndex(0);
  field<QPushButton>(page, "save_settings")->click();
  EXPECT_EQ(saves.count(), 0);
  EXPECT_EQ(choice->currentIndex(), 1);
  EXPECT_TRUE(field<QLabel>(page, "settings_message")
                  ->text()
                  .contains("proxy[1].host"));
  field<QLineEdit>(page, "proxy_host")->setText("192.0.2.2");
  field<QSpinBox>(page, "proxy_port")->setValue(3128);
  field<QPushButton>(page, "save_settings")->click();
  ASSERT_EQ(saves.count(), 1);
  auto parsed
      = config::parse(saves.at(0).at(0).toByteArray().toStdString(), "saved");
  ASSERT_TRUE(parsed.ok()) << config::to_string(parsed.errors);
  ASSERT_EQ(parsed.value->proxies.size(), 2u);
  EXPECT_EQ(parsed.value->proxies[0].name, "proxy 1");
  EXPECT_EQ(parsed.value->proxies[0].host, "10.0.0.1");
  EXPECT_EQ(parsed.value->proxies[1].name, "work");
  EXPECT_EQ(parsed.value->proxies[1].port, 3128);
  EXPECT_EQ(parsed.value->rules.at(0).proxy, "work");
  // "Check it": the saved proxy of that name.
  page.saved(true, {});
  QSignalSpy tests{&page, &settings_page::test_requested};
  field<QPushButton>(page, "proxy_test")->click();
  ASSERT_EQ(tests.count(), 1);
  EXPECT_EQ(tests.at(0).at(0).toString(), "work");
  // Removed again: its rule goes through the first.
  field<QPushButton>(page, "proxy_remove")->click();
  EXPECT_EQ(choice->count(), 1);
  field<QPushButton>(page, "save_settings")->click();
  ASSERT_EQ(saves.count(), 2);
  parsed
      = config::parse(saves.at(1).at(0).toByteArray().toStdString(), "saved");
  ASSERT_TRUE(parsed.ok()) << config::to_string(parsed.errors);
  EXPECT_EQ(parsed.value->proxies.size(), 1u);
  EXPECT_EQ(parsed.value->rules.at(0).proxy, "");
}

// Each proxy shown with its own fields: the login only with "needs a
// login", the spares only for SOCKS5 (an HTTP proxy gets none).
TEST(tray_settings, each_proxy_enables_the_fields_its_kind_uses) {
  app();
  config::settings s;
  s.proxies[0].name = "home";
  s.proxies[0].host = "10.0.0.1";
  config::proxy_settings office;
  office.name = "office";
  office.host = "10.0.0.2";
  office.type = config::proxy_type::http;
  office.auth = true;
  office.login = "alice";
  office.password = "s3cret";
  s.proxies.push_back(office);
  settings_page page;
  page.load(QByteArray::fromStdString(config::serialize(s)), "/x/config.toml");
  auto* choice = field<QComboBox>(page, "proxy_choice");
  auto* login = field<QLineEdit>(page, "proxy_login");
  auto* spares = field<QSpinBox>(page, "proxy_spare_connections");
  ASSERT_EQ(choice->count(), 2);
  for (int round = 0; round < 2; ++round) {
    choice->setCurrentIndex(0);
    EXPECT_FALSE(login->isEnabled()) << "home needs no login";
    EXPECT_TRUE(spares->isEnabled()) << "home is SOCKS5";
    choice->setCurrentIndex(1);
    EXPECT_TRUE(login->isEnabled()) << "office needs a login";
    EXPECT_EQ(login->text(), "alice");
    EXPECT_FALSE(spares->isEnabled()) << "office is an HTTP proxy";
  }
  // Changed by hand: the fields follow.
  field<QComboBox>(page, "proxy_type")->setCurrentIndex(0);
  EXPECT_TRUE(spares->isEnabled());
  field<QCheckBox>(page, "proxy_auth")->setChecked(false);
  EXPECT_FALSE(login->isEnabled());
  EXPECT_FALSE(field<QLineEdit>(page, "proxy_password")->isEnabled());
}

// The rules: added, edited, moved up, saved in order; a rule that matches
// nothing is refused with the validator's words, and selected.
TEST(tray_settings, rules_are_added_reordered_and_saved_in_order) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  QSignalSpy saves{&page, &settings_page::save_requested};
  auto* list = field<QListWidget>(page, "rules");
  ASSERT_EQ(list->count(), 1);
  EXPECT_EQ(list->item(0)->text(), "Discord — through the proxy");
  field<QPushButton>(page, "rule_add")->click();
  ASSERT_EQ(list->count(), 2);
  EXPECT_EQ(list->currentRow(), 1);
  field<QPushButton>(page, "save_settings")->click();
  EXPECT_EQ(saves.count(), 0) << "a new rule has no programs yet";
  EXPECT_TRUE(field<QLabel>(page, "settings_message")
                  ->text()
                  .contains("matches no program"));
  EXPECT_EQ(list->currentRow(), 1) << "the rule with the error is shown";
  field<QLineEdit>(page, "rule_name")->setText("games");
  field<QPlainTextEdit>(page, "target_processes")
      ->setPlainText("Game*.exe\nC:\\Games\\\n/opt/x/run\n");
  field<QComboBox>(page, "rule_action")->setCurrentIndex(2);
  field<QCheckBox>(page, "rule_children")->setChecked(true);
  field<QPushButton>(page, "rule_up")->click();
  EXPECT_EQ(list->currentRow(), 0);
  EXPECT_EQ(list->item(0)->text(), "games — blocked (and what it starts)");
  EXPECT_FALSE(field<QPushButton>(page, "rule_up")->isEnabled());
  field<QPushButton>(page, "save_settings")->click();
  ASSERT_EQ(saves.count(), 1)
      << field<QLabel>(page, "settings_message")->text().toStdString();
  auto parsed
      = config::parse(saves.at(0).at(0).toByteArray().toStdString(), "saved");
  ASSERT_TRUE(parsed.ok()) << config::to_string(parsed.errors);
  ASSERT_EQ(parsed.value->rules.size(), 2u);
  auto& games = parsed.value->rules[0];
  EXPECT_EQ(games.name, "games");
  EXPECT_EQ(games.apps, std::vector<std::string>{"Game*.exe"});
  EXPECT_EQ(games.folders, std::vector<std::string>{"C:\\Games\\"});
  EXPECT_EQ(games.paths, std::vector<std::string>{"/opt/x/run"});
  EXPECT_TRUE(games.children);
  EXPECT_EQ(games.action, config::rule_action::block);
  EXPECT_EQ(parsed.value->rules[1], config::discord_rule());
  // Removed: only Discord's rule is left.
  field<QPushButton>(page, "rule_remove")->click();
  EXPECT_EQ(list->count(), 1);
  EXPECT_EQ(list->item(0)->text(), "Discord — through the proxy");
}

// A rule naming a program file that is not there (yet) is saved (it
// applies once the file is there), and the Settings say so, as `drover
// config check` does, on that rule: a typing mistake would otherwise wait
// forever without a word.
TEST(tray_settings, a_program_path_that_does_not_exist_is_saved_and_said) {
  app();
  settings_page page;
  page.load(valid_config(), "/x/config.toml");
  QSignalSpy saves{&page, &settings_page::save_requested};
  auto* message = field<QLabel>(page, "settings_message");
  auto* list = field<QListWidget>(page, "rules");
  // This test's own program is there (on Linux and under wine alike); a
  // name beside it is not.
  auto there
      = QDir::toNativeSeparators(QCoreApplication::applicationFilePath());
  auto missing = there + "-not-installed";
  field<QPushButton>(page, "rule_add")->click();
  ASSERT_EQ(list->currentRow(), 1);
  field<QPlainTextEdit>(page, "target_processes")->setPlainText(missing);
  list->setCurrentRow(0);
  field<QPushButton>(page, "save_settings")->click();
  ASSERT_EQ(saves.count(), 1) << message->text().toStdString();
  page.saved(true, {});
  EXPECT_TRUE(message->text().contains(missing + " does not exist (yet)"))
      << message->text().toStdString();
  EXPECT_EQ(list->currentRow(), 1) << "the rule that names it is shown";
  EXPECT_EQ(page.current().rules.size(), 2u) << "saved all the same";
  // A path that is there: saved without a word.
  field<QPlainTextEdit>(page, "target_processes")->setPlainText(there);
  field<QPushButton>(page, "save_settings")->click();
  ASSERT_EQ(saves.count(), 2) << message->text().toStdString();
  page.saved(true, {});
  EXPECT_EQ(message->text(), "Saved. Drover applies it now.");
}

TEST(tray_settings, a_broken_file_is_reported_with_its_place) {
  app();
  settings_page page;
  QSignalSpy problems{&page, &settings_page::problem_changed};
  page.load("[proxy]\nport = 70000\n", "/x/config.toml");
  ASSERT_EQ(problems.count(), 1);
  auto text = problems.at(0).at(0).toString();
  EXPECT_TRUE(text.contains("/x/config.toml:2:8")) << text.toStdString();
  EXPECT_FALSE(page.has_good_config());
  page.load(valid_config(), "/x/config.toml");
  ASSERT_EQ(problems.count(), 2);
  EXPECT_TRUE(problems.at(1).at(0).toString().isEmpty());
}

TEST(tray_window, closing_hides_to_the_tray) {
  app();
  main_window w{"drover"};
  QSignalSpy hidden{&w, &main_window::closed_to_tray};
  w.show();
  EXPECT_TRUE(w.isVisible());
  w.close();
  EXPECT_FALSE(w.isVisible());
  EXPECT_EQ(hidden.count(), 1);
}

// The Timeline: every supervision decision is a row, newest first, with the
// engine's own words.
TEST(tray_window, the_timeline_shows_restarts_and_reconnect_attempts) {
  app();
  main_window w{"drover"};
  engine_event restart;
  restart.kind = event_kind::restart;
  restart.state = engine_state::starting;
  restart.reason = "the packet handle was lost; reopening it in 2 s";
  restart.time = caf::make_timestamp();
  engine_event attempt;
  attempt.kind = event_kind::reconnect_attempt;
  attempt.state = engine_state::reconnecting;
  attempt.attempt = 3;
  attempt.reason = "cannot reach the proxy 10.0.0.1:1080";
  attempt.time = caf::make_timestamp();
  w.add_event(restart);
  w.add_event(attempt);
  auto* timeline = w.findChild<QTreeWidget*>("timeline");
  ASSERT_NE(timeline, nullptr);
  ASSERT_EQ(timeline->topLevelItemCount(), 2);
  EXPECT_EQ(timeline->topLevelItem(0)->text(1), "Reconnect attempt 3");
  EXPECT_EQ(timeline->topLevelItem(0)->text(2).toStdString(), attempt.reason);
  EXPECT_TRUE(timeline->topLevelItem(1)->text(1).startsWith("Restart"));
  EXPECT_EQ(timeline->topLevelItem(1)->text(2).toStdString(), restart.reason);
  w.clear_events();
  EXPECT_EQ(timeline->topLevelItemCount(), 0);
}

// The Status tab at a glance: the state as a badge in the tray icon's
// colour, one sentence naming the programs and the proxy, and, when
// something is wrong, what to do (Open settings, Run check); the counters
// folded under Details.
TEST(tray_window, the_badge_says_the_state_in_the_icons_colour) {
  app();
  main_window w{"drover"};
  w.settings()->load(valid_config(), "/tmp/drover.toml");
  auto* badge = w.findChild<QLabel*>("status_state");
  auto* headline = w.findChild<QLabel*>("status_headline");
  auto* open_settings = w.findChild<QPushButton*>("status_open_settings");
  auto* run_check = w.findChild<QPushButton*>("status_run_check");
  auto* details = w.findChild<QWidget*>("status_details");
  ASSERT_TRUE(badge && headline && open_settings && run_check && details);
  stats_snapshot moving;
  auto shown = [&](engine_state state, std::string reason = {}) {
    engine_event e;
    e.state = state;
    e.reason = std::move(reason);
    w.show_state(e, moving, std::chrono::seconds{5}, rates{});
  };
  shown(engine_state::active, "proxying through 10.0.0.1:1080");
  EXPECT_EQ(badge->text(), "Active");
  EXPECT_EQ(badge->property("badge").toString(), "#2e7d32") << "green";
  EXPECT_EQ(headline->text(), "Discord's traffic goes through 10.0.0.1:1080.");
  EXPECT_TRUE(open_settings->isHidden());
  EXPECT_TRUE(run_check->isHidden());
  shown(engine_state::reconnecting, "cannot reach the proxy");
  EXPECT_EQ(badge->property("badge").toString(), "#f9a825") << "yellow";
  EXPECT_FALSE(open_settings->isHidden());
  EXPECT_FALSE(run_check->isHidden());
  shown(engine_state::failed, "the proxy refused the login");
  EXPECT_EQ(badge->property("badge").toString(), "#c62828") << "red";
  EXPECT_EQ(headline->text(),
            "Drover has stopped trying: the proxy refused the login.");
  shown(engine_state::idle);
  EXPECT_EQ(badge->property("badge").toString(), "#757575") << "grey";
  EXPECT_TRUE(details->isHidden()) << "the counters are folded";
  // The remedies lead to where the user acts.
  shown(engine_state::failed, "the proxy refused the login");
  auto* tabs = w.findChild<QTabWidget*>("tabs");
  open_settings->click();
  EXPECT_EQ(tabs->currentWidget()->objectName(), "settings_scroll");
  QSignalSpy asked{w.check(), &check_page::run_requested};
  run_check->click();
  EXPECT_EQ(tabs->currentWidget(), w.check());
  EXPECT_EQ(asked.count(), 1) << "Run check starts the check";
}

// Display scaling: Windows at 150 % (Qt 5 rounds the factor down and lets
// the fonts grow with the DPI, app/tray/tray_app.cpp) gives text half as
// large again. Every tab at 100 % and 150 %, shown at the window's own
// size: no label, button or field squeezed below the height its text
// needs, and no two neighbours overlapping.
TEST(tray_window, every_tab_keeps_its_rows_apart_at_100_and_150_percent) {
  app();
  const QFont normal = QApplication::font();
  for (double scale : {1.0, 1.5}) {
    QFont grown = normal;
    grown.setPointSizeF(normal.pointSizeF() * scale);
    QApplication::setFont(grown);
    main_window w{"drover"};
    w.settings()->load(valid_config(), "/tmp/drover.toml");
    engine_event e;
    e.state = engine_state::failed;
    e.reason = "the proxy refused the login"; // the remedies show too
    w.show_state(e, stats_snapshot{}, std::chrono::seconds{5}, rates{});
    w.show();
    auto* tabs = w.findChild<QTabWidget*>("tabs");
    ASSERT_NE(tabs, nullptr);
    for (int i = 0; i < tabs->count(); ++i) {
      tabs->setCurrentIndex(i);
      QApplication::processEvents();
      auto where = tabs->tabText(i).toStdString() + " at "
                   + std::to_string(static_cast<int>(scale * 100)) + " %";
      std::vector<QWidget*> shown;
      for (auto* c : tabs->currentWidget()->findChildren<QWidget*>()) {
        bool text
            = qobject_cast<QLabel*>(c) || qobject_cast<QAbstractButton*>(c)
              || qobject_cast<QLineEdit*>(c) || qobject_cast<QComboBox*>(c);
        // Qt's own parts (a spin box's line edit) are sized by their
        // widget, which is checked itself.
        if (text && c->isVisible() && !c->objectName().startsWith("qt_")
            && !c->parentWidget()->inherits("QAbstractScrollArea"))
          shown.push_back(c);
      }
      for (auto* c : shown) {
        EXPECT_GE(c->height(), c->minimumSizeHint().height())
            << where << ": " << c->metaObject()->className() << " \""
            << c->objectName().toStdString() << "\" is squeezed";
        for (auto* other : shown) {
          if (other < c && other->parentWidget() == c->parentWidget()) {
            EXPECT_FALSE(c->geometry().intersects(other->geometry()))
                << where << ": " << c->objectName().toStdString() << " and "
                << other->objectName().toStdString() << " overlap";
          }
        }
      }
    }
  }
  QApplication::setFont(normal);
}

// The live chart: one sample a second for five minutes, the reconnects
// and sleeps of that time marked where they happened.
TEST(tray_window, the_traffic_chart_takes_samples_and_marks_reconnects) {
  app();
  main_window w{"drover"};
  auto* chart = w.chart();
  ASSERT_NE(chart, nullptr);
  EXPECT_EQ(chart->sample_count(), 0);
  w.add_sample(rates{1.5e6, 2e5});
  w.add_sample(rates{1.2e6, 1e5});
  EXPECT_EQ(chart->sample_count(), 2);
  EXPECT_EQ(chart->scale_top(), 2e6) << "1.5 MB/s fits under 2 MB/s";
  engine_event attempt;
  attempt.kind = event_kind::reconnect_attempt;
  attempt.state = engine_state::reconnecting;
  attempt.attempt = 1;
  attempt.time = caf::make_timestamp();
  w.add_event(attempt);
  EXPECT_EQ(chart->marker_count(), 1);
  engine_event asleep;
  asleep.state = engine_state::paused;
  asleep.time = caf::make_timestamp() - std::chrono::minutes{10};
  w.add_event(asleep);
  EXPECT_EQ(chart->marker_count(), 1) << "older than the chart: not marked";
  asleep.time = caf::make_timestamp();
  w.add_event(asleep);
  EXPECT_EQ(chart->marker_count(), 2) << "a sleep is marked";
  for (int i = 0; i < traffic_chart::span + 10; ++i)
    w.add_sample(rates{});
  EXPECT_EQ(chart->sample_count(), traffic_chart::span) << "five minutes kept";
  EXPECT_EQ(chart->marker_count(), 0) << "marks scroll out with their time";
  EXPECT_EQ(chart->scale_top(), 1000) << "idle: the smallest scale";
  // It draws (offscreen) without complaint, at its size.
  w.resize(720, 460);
  w.show();
  chart->repaint();
  EXPECT_GT(chart->height(), 60);
}

// The Apps tab: each running target once (its processes counted, their
// flows' traffic summed), the rules' programs that are not running greyed
// out, and "Add an app" writing a rule through Settings' save.
TEST(tray_window, the_apps_tab_lists_running_and_stopped_programs) {
  app();
  main_window w{"drover"};
  config::settings s;
  s.proxies[0].host = "10.0.0.1";
  s.proxies[0].port = 1080;
  w.settings()->load(QByteArray::fromStdString(config::serialize(s)),
                     "/tmp/drover.toml");
  auto* apps = w.findChild<QTreeWidget*>("apps");
  ASSERT_NE(apps, nullptr);
  QSignalSpy said{w.apps(), &apps_page::running_changed};
  status_reply st;
  w.show_status(st);
  ASSERT_EQ(apps->topLevelItemCount(), 4) << "Discord's four programs";
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(apps->topLevelItem(i)->text(1), "not running");
  EXPECT_EQ(apps->topLevelItem(0)->text(0), "Discord") << "without .exe";
  EXPECT_EQ(apps->topLevelItem(0)->text(4), "Discord") << "its rule";
  // Discord starts: two processes, one row, their flows' bytes summed.
  st.targets = {target_row{100, "Discord.exe", "Discord"},
                target_row{101, "Discord.exe", "Discord"}};
  flow_row a, b;
  a.pid = 100;
  a.bytes_in = 1500;
  a.bytes_out = 500;
  b.pid = 101;
  b.bytes_in = 2500;
  st.flows = {a, b};
  w.show_status(st);
  ASSERT_EQ(apps->topLevelItemCount(), 4);
  auto* discord = apps->topLevelItem(0);
  EXPECT_EQ(discord->text(0), "Discord");
  EXPECT_EQ(discord->text(1), "running (2 processes)");
  EXPECT_EQ(discord->text(2), "4.0 KB");
  EXPECT_EQ(discord->text(3), "500 B");
  EXPECT_FALSE(discord->icon(0).isNull());
  EXPECT_EQ(apps->topLevelItem(1)->text(1), "not running")
      << "the rule's other programs";
  ASSERT_EQ(said.count(), 1);
  EXPECT_EQ(said.last().at(0).toStringList(), QStringList{"Discord"});
  w.show_status(st);
  EXPECT_EQ(said.count(), 1) << "said once per change";
  // Each column is wider than its widest text and header by a gap: a long
  // name does not touch the next column's text; plain words in the
  // headers (arrows fell back to another font under wine, a taller row).
  st.targets.push_back(
      target_row{102, "AVeryLongProgramNameIndeed.exe", "Discord"});
  w.show_status(st);
  auto gap = apps->fontMetrics().averageCharWidth();
  for (int c = 0; c + 1 < apps->columnCount(); ++c) {
    auto header = apps->headerItem()->text(c);
    EXPECT_EQ(header.count(QChar{0x2191}) + header.count(QChar{0x2193}), 0)
        << header.toStdString();
    for (int r = 0; r < apps->topLevelItemCount(); ++r) {
      auto* row = apps->topLevelItem(r);
      auto text = apps->fontMetrics().horizontalAdvance(row->text(c))
                  + (c == 0 ? apps->iconSize().width() : 0);
      EXPECT_GE(apps->columnWidth(c), text + gap)
          << "column " << c << ": " << row->text(c).toStdString();
    }
  }
  st.targets.pop_back();
  // Add an app: a rule for it, saved as Settings saves.
  QSignalSpy saving{w.settings(), &settings_page::save_requested};
  Q_EMIT w.apps()->add_requested(apps_page::rule_for_program("Telegram.exe"));
  ASSERT_EQ(saving.count(), 1);
  auto saved = config::parse(saving.last().at(0).toByteArray().toStdString(),
                             "/tmp/drover.toml");
  ASSERT_TRUE(saved.ok());
  ASSERT_EQ(saved.value->rules.size(), 2u);
  EXPECT_EQ(saved.value->rules[1].name, "Telegram");
  EXPECT_EQ(saved.value->rules[1].apps,
            std::vector<std::string>{"Telegram.exe"});
  auto file = apps_page::rule_for_file("/opt/tg/Telegram");
  EXPECT_EQ(file.name, "Telegram");
  EXPECT_EQ(file.paths,
            std::vector<std::string>{
                QDir::toNativeSeparators("/opt/tg/Telegram").toStdString()})
      << "as the system writes it";
}

// `ui.theme`: dark is Fusion with a dark palette; light and auto (here:
// the desktop's palette, as Qt found it) bring the start's look back.
TEST(tray_window, the_theme_applies_and_comes_back) {
  auto& a = app();
  auto started = a.palette().color(QPalette::Window);
  apply_theme(a, config::ui_theme::dark);
  EXPECT_TRUE(dark_theme_in_force(a));
  EXPECT_EQ(a.style()->objectName(), "fusion");
  EXPECT_LT(a.palette().color(QPalette::Window).lightness(), 80);
  EXPECT_GT(a.palette().color(QPalette::WindowText).lightness(), 180)
      << "light text on it";
  apply_theme(a, config::ui_theme::light);
  EXPECT_FALSE(dark_theme_in_force(a));
  EXPECT_GT(a.palette().color(QPalette::Window).lightness(), 150);
  apply_theme(a, config::ui_theme::automatic);
  EXPECT_FALSE(dark_theme_in_force(a)) << "no system says dark here";
  EXPECT_EQ(a.palette().color(QPalette::Window), started);
}

// Several proxies: the Status tab has a line for each; one proxy, none.
TEST(tray_window, each_of_several_proxies_has_a_line_in_the_status) {
  app();
  main_window w{"drover"};
  auto* proxies = w.findChild<QLabel*>("status_proxies");
  ASSERT_NE(proxies, nullptr);
  status_reply s;
  s.proxies
      = QStringList{"home (192.0.2.1:1080): up",
                    "work (192.0.2.2:3128): failed (authentication rejected)"};
  w.show_status(s);
  EXPECT_FALSE(proxies->isHidden());
  EXPECT_EQ(proxies->text().toStdString(),
            "home (192.0.2.1:1080): up\nwork (192.0.2.2:3128): failed "
            "(authentication rejected)");
  w.show_status(status_reply{});
  EXPECT_TRUE(proxies->isHidden());
}

// Windows: the Status tab says how the capture sorted every program's
// packets (the ones with no owner found are where a target's could go
// wrong); where the kernel sorts them (Linux), no row.
TEST(tray_window, the_status_says_how_packets_were_sorted_when_drover_did_it) {
  app();
  main_window w{"drover"};
  auto* sorted = w.findChild<QLabel*>("status_sorted");
  ASSERT_NE(sorted, nullptr);
  w.show_status(status_reply{});
  EXPECT_TRUE(sorted->isHidden());
  status_reply s;
  s.stats.packets_passed = 345;
  s.stats.packets_held = 12;
  s.stats.packets_unowned_passed = 2;
  s.stats.packets_unowned_dropped = 3;
  w.show_status(s);
  EXPECT_FALSE(sorted->isHidden());
  EXPECT_EQ(sorted->text().toStdString(),
            "345 packets of other programs let out, 12 waited for their "
            "owner; with no owner found: 2 let out, 3 dropped");
  w.show_status(status_reply{});
  EXPECT_TRUE(sorted->isHidden());
}

#ifndef _WIN32
// "Save a report" runs this executable's `report PATH` and shows what it
// said (here a stand-in that says what it was asked).
TEST(tray_check, save_a_report_runs_drover_report) {
  app();
  QTemporaryDir dir;
  auto script = dir.filePath("drover");
  {
    QFile f{script};
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("#!/bin/sh\necho \"Wrote $2 (asked: $1)\"\n");
  }
  QFile::setPermissions(script, QFileDevice::ReadOwner | QFileDevice::ExeOwner);
  check_page page{script};
  QSignalSpy saved{&page, &check_page::report_saved};
  page.save_report(dir.filePath("r.zip"));
  EXPECT_FALSE(field<QPushButton>(page, "save_report")->isEnabled())
      << "one at a time";
  ASSERT_TRUE(saved.wait(10000));
  EXPECT_TRUE(saved.at(0).at(0).toBool());
  EXPECT_EQ(
      saved.at(0).at(1).toString(),
      QStringLiteral("Wrote %1 (asked: report)").arg(dir.filePath("r.zip")));
  EXPECT_EQ(field<QLabel>(page, "check_summary")->text(),
            saved.at(0).at(1).toString());
  EXPECT_TRUE(field<QPushButton>(page, "save_report")->isEnabled());
}

// Several proxies: `drover check --json` answers with one result each; the
// Check tab shows each proxy's steps under its name and passes only when
// all do. "Check it" in Settings asks for one proxy by name.
TEST(tray_check, each_of_several_proxies_has_its_steps_and_summary) {
  app();
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  auto script = dir.filePath("fake-drover");
  auto args_file = dir.filePath("args");
  {
    QFile f{script};
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("#!/bin/sh\necho \"$@\" > '" + args_file.toUtf8()
            + "'\necho '[{\"proxy\":\"192.0.2.1:1080\",\"name\":\"home\","
              "\"ok\":true,\"summary\":\"fine\",\"steps\":[{\"name\":"
              "\"TCP connect\",\"ok\":true,\"ms\":1.5,\"detail\":\"\"}]},"
              "{\"proxy\":\"192.0.2.2:3128\",\"name\":\"work\",\"ok\":false,"
              "\"summary\":\"down\",\"steps\":[{\"name\":\"TCP connect\","
              "\"ok\":false,\"ms\":0,\"detail\":\"refused\"}]}]'\nexit 1\n");
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner
                     | QFileDevice::ExeOwner);
  }
  check_page page{script};
  QSignalSpy done{&page, &check_page::finished};
  page.run("[proxy]\n");
  ASSERT_TRUE(done.wait(10000));
  EXPECT_FALSE(done.at(0).at(0).toBool()) << "one proxy failed";
  auto* steps = field<QTreeWidget>(page, "check_steps");
  ASSERT_EQ(steps->topLevelItemCount(), 4);
  EXPECT_EQ(steps->topLevelItem(0)->text(0), "Proxy home (192.0.2.1:1080)");
  EXPECT_EQ(steps->topLevelItem(2)->text(0), "Proxy work (192.0.2.2:3128)");
  EXPECT_EQ(steps->topLevelItem(3)->text(3), "refused");
  EXPECT_EQ(field<QLabel>(page, "check_summary")->text(),
            "home: fine\nwork: down");
  // One by name.
  page.run("[proxy]\n", "work");
  ASSERT_TRUE(done.wait(10000));
  QFile args{args_file};
  ASSERT_TRUE(args.open(QIODevice::ReadOnly));
  EXPECT_TRUE(args.readAll().trimmed().endsWith("--proxy work"));
}
#endif

// The banner names the broken file's place and goes away when it is fixed.
TEST(tray_window, the_config_banner_names_the_place) {
  app();
  main_window w{"drover"};
  w.show();
  auto* banner = w.findChild<QLabel*>("config_banner");
  ASSERT_NE(banner, nullptr);
  EXPECT_FALSE(banner->isVisible());
  w.show_banner("`proxy.port` must be 1..65535, got 70000 at config.toml:2:8");
  EXPECT_TRUE(banner->isVisible());
  EXPECT_TRUE(banner->text().contains("config.toml:2:8"));
  w.show_banner({});
  EXPECT_FALSE(banner->isVisible());
}

// One tray per user: the second launch finds the first, which is asked to
// show its window; a lock left by a tray that died is taken over.
TEST(tray_single_instance, a_second_launch_raises_the_first) {
  app();
  QTemporaryDir dir;
  single_instance first{dir.path()};
  ASSERT_TRUE(first.claim()) << first.error().toStdString();
  QSignalSpy shown{&first, &single_instance::show_requested};
  // The second launch on a thread of its own, as in a process of its own:
  // it waits for the first to have read its request, which needs this
  // thread's event loop.
  bool second_claimed = true;
  QString second_error;
  std::thread second_launch{[&] {
    single_instance second{dir.path()};
    second_claimed = second.claim();
    second_error = second.error();
  }};
  EXPECT_TRUE(shown.wait(5000));
  second_launch.join();
  EXPECT_FALSE(second_claimed);
  EXPECT_TRUE(second_error.isEmpty()) << second_error.toStdString();
  EXPECT_EQ(shown.count(), 1);
}

TEST(tray_single_instance, a_dead_trays_lock_is_taken_over) {
  app();
  QTemporaryDir dir;
  {
    // The lock file and socket a killed tray left behind.
    QFile lock{dir.path() + "/tray.lock"};
    ASSERT_TRUE(lock.open(QIODevice::WriteOnly));
    lock.write("4242\n");
    QFile socket{dir.path() + "/tray.sock"};
    ASSERT_TRUE(socket.open(QIODevice::WriteOnly));
  }
  single_instance after_a_crash{dir.path()};
  EXPECT_TRUE(after_a_crash.claim()) << after_a_crash.error().toStdString();
}

#ifdef _WIN32
// A program that is not Drover holds the engine's pipe name (Windows lets
// any program take a free name): the tray's link says what holds it and
// sends it nothing, neither the follow request nor a command.
TEST(tray_engine_link, an_impostor_on_the_pipe_is_named_and_sent_nothing) {
  app();
  auto name = QStringLiteral("drover-link-test-%1")
                  .arg(QCoreApplication::applicationPid());
  QProcess squatter;
  squatter.start(QStringLiteral(DROVER_PIPE_SQUATTER), {name});
  ASSERT_TRUE(squatter.waitForReadyRead(20000));
  ASSERT_TRUE(squatter.readLine().startsWith("ready"));
  {
    engine_link link{{QStringLiteral("\\\\.\\pipe\\") + name}};
    QSignalSpy refused{&link, &engine_link::refused};
    QSignalSpy connected{&link, &engine_link::connected};
    link.start();
    // On Windows a pipe connects at once, within start().
    ASSERT_TRUE(!refused.isEmpty() || refused.wait(10000));
    auto why = refused.at(0).at(0).toString();
    EXPECT_TRUE(why.contains("held by another program")) << why.toStdString();
    EXPECT_TRUE(why.contains("pipe_squatter.exe")) << why.toStdString();
    EXPECT_EQ(connected.count(), 0);
    bool answered = true, done = false;
    QEventLoop loop;
    link.request("status", [&](bool ok, const QByteArray&) {
      answered = ok;
      done = true;
      loop.quit();
    });
    if (!done) { // a pipe may have answered within request() already
      QTimer::singleShot(10000, &loop, &QEventLoop::quit); // bounded
      loop.exec();
    }
    EXPECT_TRUE(done);
    EXPECT_FALSE(answered) << "a command reached the squatter";
  }
  // Every client it saw had sent nothing.
  QByteArray seen;
  for (int i = 0; i < 50 && !seen.contains("read "); ++i)
    if (squatter.waitForReadyRead(200))
      seen += squatter.readAll();
  squatter.kill();
  squatter.waitForFinished(10000);
  seen += squatter.readAll();
  EXPECT_TRUE(seen.contains("read 0 bytes")) << seen.toStdString();
  for (auto line : seen.split('\n')) {
    if (line.startsWith("read ")) {
      EXPECT_TRUE(line.trimmed() == "read 0 bytes") << line.toStdString();
    }
  }
}
#endif
