// The tray's Settings form in-process (tray_widgets_world.hpp): it refuses
// a bad value with the config validator's own message and hands a valid
// one on as a complete config file.

#include "tests/app/tray_widgets_world.hpp"

using namespace drover;
using namespace drover::tray;
using namespace drover::test::tray_world;

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
