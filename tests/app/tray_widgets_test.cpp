// The tray's widgets in-process (tray_widgets_world.hpp): the window (it
// hides to the tray instead of closing; the Timeline, the badge, the tabs,
// the chart), the Check page, a single instance and the engine link.

#include "tests/app/tray_widgets_world.hpp"

using namespace drover;
using namespace drover::tray;
using namespace drover::test::tray_world;

#ifdef __SANITIZE_ADDRESS__
// Qt's platform plugins and the font stack keep caches they never free, and
// the plugins are unloaded before LeakSanitizer reports, so their stacks
// cannot be told apart from ours: no leak check in this GUI test. Every
// other AddressSanitizer check stays on.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}
#endif

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
