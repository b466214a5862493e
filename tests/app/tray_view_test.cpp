// The tray's view logic: every engine state to its icon, tooltip, status
// row and primary action.

#include <gtest/gtest.h>

#include "app/tray/rules_text.hpp"
#include "app/tray/view.hpp"

using namespace drover;
using namespace drover::tray;
using namespace std::chrono_literals;

namespace {

engine_event in(engine_state s, std::string reason = "", uint32_t attempt = 0) {
  engine_event e;
  e.state = s;
  e.reason = std::move(reason);
  e.attempt = attempt;
  return e;
}

} // namespace

TEST(tray_view, each_state_has_its_icon) {
  stats_snapshot quiet, moving;
  quiet.no_traffic = true;
  EXPECT_EQ(icon_for(in(engine_state::idle), moving), icon::idle);
  EXPECT_EQ(icon_for(in(engine_state::paused), moving), icon::idle);
  EXPECT_EQ(icon_for(in(engine_state::starting), moving), icon::warning);
  EXPECT_EQ(icon_for(in(engine_state::active), moving), icon::active);
  EXPECT_EQ(icon_for(in(engine_state::active), quiet), icon::warning)
      << "no traffic is yellow (seed D1)";
  EXPECT_EQ(icon_for(in(engine_state::reconnecting), moving), icon::warning);
  EXPECT_EQ(icon_for(in(engine_state::failed), moving), icon::failed);
  auto tcp_only = in(engine_state::active, "proxying TCP through p:1080; ...");
  tcp_only.tcp_only = true;
  EXPECT_EQ(icon_for(tcp_only, moving), icon::warning)
      << "a proxy without UDP: no voice, yellow";
  EXPECT_EQ(state_text(tcp_only, moving), "Active (TCP only: no voice)");
}

TEST(tray_view, the_primary_action_follows_the_state) {
  EXPECT_EQ(primary_for(engine_state::idle).action, primary_action::start);
  EXPECT_EQ(primary_for(engine_state::idle).label, "Start proxying");
  EXPECT_EQ(primary_for(engine_state::failed).action, primary_action::retry);
  for (auto s : {engine_state::starting, engine_state::active,
                 engine_state::reconnecting, engine_state::paused})
    EXPECT_EQ(primary_for(s).action, primary_action::stop);
}

TEST(tray_view, rates_come_from_two_samples) {
  stats_snapshot a, b;
  a.bytes_in = 1000;
  a.bytes_out = 500;
  b.bytes_in = 3000;
  b.bytes_out = 1500;
  auto r = rates_between(a, b, 2000ms);
  EXPECT_DOUBLE_EQ(r.in, 1000.0);
  EXPECT_DOUBLE_EQ(r.out, 500.0);
  b.bytes_in = 100; // the engine restarted: counters from zero
  EXPECT_DOUBLE_EQ(rates_between(a, b, 1000ms).in, 100.0);
  EXPECT_DOUBLE_EQ(rates_between(a, b, 0ms).in, 0.0);
}

TEST(tray_view, rates_and_uptimes_read_like_the_seed) {
  EXPECT_EQ(rate_text(0), "0 B/s");
  EXPECT_EQ(rate_text(950), "950 B/s");
  EXPECT_EQ(rate_text(142000), "142 KB/s");
  EXPECT_EQ(rate_text(1200000), "1.2 MB/s");
  EXPECT_EQ(uptime_text(45s), "45s");
  EXPECT_EQ(uptime_text(12min), "12m");
  EXPECT_EQ(uptime_text(2h + 14min), "2h 14m");
  EXPECT_EQ(uptime_text(76h), "3d 4h");
}

TEST(tray_view, the_status_row_while_active_and_otherwise) {
  stats_snapshot s;
  rates r{1200000, 142000};
  EXPECT_EQ(status_row(in(engine_state::active), s, 2h + 14min, r),
            "Active \u00b7 2h 14m \u00b7 \u2191 142 KB/s \u2193 1.2 MB/s");
  EXPECT_EQ(status_row(in(engine_state::reconnecting, "x", 3), s, 0s, r),
            "Reconnecting (attempt 3)");
  s.no_traffic = true;
  EXPECT_EQ(status_row(in(engine_state::active), s, 30s, {}),
            "Active (no traffic) \u00b7 30s \u00b7 \u2191 0 B/s \u2193 0 B/s");
}

TEST(tray_view, the_tooltip_says_state_and_reason_within_127_characters) {
  stats_snapshot s;
  EXPECT_EQ(tooltip(in(engine_state::active, "proxying through p:1080"), s),
            "Drover: Active\nproxying through p:1080");
  std::string long_reason;
  while (long_reason.size() < 300)
    long_reason += "cannot reach the proxy ";
  auto t = tooltip(in(engine_state::failed, long_reason), s);
  EXPECT_LE(t.size(), 127u);
  EXPECT_EQ(t.rfind("Drover: Failed\ncannot reach", 0), 0u) << t;
  EXPECT_EQ(t.substr(t.size() - 3), "\u2026");
  // A cut never splits a multi-byte character.
  std::string cyrillic;
  while (cyrillic.size() < 300)
    cyrillic += "\u043f\u0440\u043e\u043a\u0441\u0438"; // no spaces
  t = tooltip(in(engine_state::failed, cyrillic), s);
  EXPECT_LE(t.size(), 127u);
  auto before_ellipsis = static_cast<unsigned char>(t[t.size() - 4]);
  EXPECT_NE(before_ellipsis & 0xC0, 0xC0) << "no dangling lead byte";
}

// A rule in the Settings tab: one program per line, each kind told by its
// shape; written and read back the same.
TEST(tray_rules_text, programs_lines_by_their_shape) {
  drover::config::app_rule r;
  drover::tray::read_programs(
      "  Discord.exe \n\nDisc*\r\n/usr/bin/x\nC:\\Apps\\\n/opt/games/\n", r);
  EXPECT_EQ(r.apps, (std::vector<std::string>{"Discord.exe", "Disc*"}));
  EXPECT_EQ(r.paths, std::vector<std::string>{"/usr/bin/x"});
  EXPECT_EQ(r.folders, (std::vector<std::string>{"C:\\Apps\\", "/opt/games/"}));
  auto text = drover::tray::programs_text(r);
  drover::config::app_rule again;
  drover::tray::read_programs(text, again);
  EXPECT_EQ(again, r);
  drover::config::app_rule from_file;
  from_file.folders = {"C:\\Apps", "/opt/games"};
  EXPECT_EQ(drover::tray::programs_text(from_file), "C:\\Apps\\\n/opt/games/")
      << "a folder is shown ending in its separator, so it reads back as one";
  from_file.name = "";
  from_file.action = drover::config::rule_action::direct;
  EXPECT_EQ(drover::tray::rule_summary(from_file, 2), "rule 3 — direct");
}

// The window's headline: one sentence a user acts on, naming the programs
// (by their rules' names) and the proxy.
TEST(tray_view, the_headline_names_the_programs_and_the_proxy) {
  config::settings s;
  s.proxies[0].host = "192.0.2.1";
  s.proxies[0].port = 1080;
  auto who = subject_of(s);
  EXPECT_EQ(who.programs, "Discord");
  EXPECT_EQ(who.proxy, "192.0.2.1:1080");
  stats_snapshot moving, quiet;
  quiet.no_traffic = true;
  EXPECT_EQ(headline(in(engine_state::active), moving, who),
            "Discord's traffic goes through 192.0.2.1:1080.");
  EXPECT_EQ(headline(in(engine_state::active), quiet, who),
            "Discord's traffic goes through 192.0.2.1:1080, but nothing has "
            "moved for a while.");
  auto tcp_only = in(engine_state::active);
  tcp_only.tcp_only = true;
  EXPECT_EQ(headline(tcp_only, moving, who),
            "Discord's connections go through 192.0.2.1:1080, but voice "
            "cannot: the proxy does not relay UDP.");
  EXPECT_EQ(headline(in(engine_state::reconnecting, "", 3), moving, who),
            "Drover cannot reach 192.0.2.1:1080 and keeps trying (attempt "
            "3). Discord's connections wait until it answers.");
  EXPECT_EQ(headline(in(engine_state::failed, "the proxy refused the login"),
                     moving, who),
            "Drover has stopped trying: the proxy refused the login.");
  EXPECT_EQ(headline(in(engine_state::failed, "The engine is not running."),
                     moving, who),
            "Drover has stopped trying: The engine is not running.")
      << "one full stop";
  EXPECT_EQ(headline(in(engine_state::idle), moving, who),
            "Drover is not proxying: choose Start proxying to send Discord "
            "through 192.0.2.1:1080.");
  // Several rules and proxies; direct while down.
  config::app_rule firefox;
  firefox.name = "Firefox";
  firefox.apps = {"firefox"};
  config::app_rule steam;
  steam.apps = {"steam"};
  config::app_rule blocked;
  blocked.name = "Blocked";
  blocked.apps = {"x"};
  blocked.action = config::rule_action::block;
  s.rules = {s.rules.front(), firefox, blocked};
  s.proxies.push_back(s.proxies.front());
  s.targets.when_not_proxying = config::not_proxying::direct;
  who = subject_of(s);
  EXPECT_EQ(who.programs, "Discord and Firefox") << "proxy rules only";
  EXPECT_EQ(who.proxy, "2 proxies");
  EXPECT_EQ(headline(in(engine_state::reconnecting), moving, who),
            "Drover cannot reach 2 proxies and keeps trying. The connections "
            "of Discord and Firefox go direct until it answers.");
  s.rules.push_back(steam);
  EXPECT_EQ(subject_of(s).programs, "Discord and 2 more programs")
      << "an unnamed rule counts by its first program";
}

TEST(tray_view, remedies_and_badges_follow_the_state) {
  stats_snapshot moving;
  auto failed = remedies_for(in(engine_state::failed), moving);
  EXPECT_TRUE(failed.open_settings && failed.run_check);
  auto reconnecting = remedies_for(in(engine_state::reconnecting), moving);
  EXPECT_TRUE(reconnecting.open_settings && reconnecting.run_check);
  auto active = remedies_for(in(engine_state::active), moving);
  EXPECT_FALSE(active.open_settings || active.run_check);
  auto tcp_only = in(engine_state::active);
  tcp_only.tcp_only = true;
  EXPECT_TRUE(remedies_for(tcp_only, moving).run_check);
  EXPECT_FALSE(remedies_for(in(engine_state::idle), moving).run_check);
  // Each icon its own badge colour; dark text on yellow.
  EXPECT_STREQ(badge_for(icon::active).background, "#2e7d32");
  EXPECT_STREQ(badge_for(icon::warning).background, "#f9a825");
  EXPECT_STREQ(badge_for(icon::warning).text, "#212121");
  EXPECT_STREQ(badge_for(icon::failed).background, "#c62828");
  EXPECT_STREQ(badge_for(icon::idle).background, "#757575");
}

TEST(tray_view, bytes_read_as_people_count_them) {
  EXPECT_EQ(bytes_text(0), "0 B");
  EXPECT_EQ(bytes_text(999), "999 B");
  EXPECT_EQ(bytes_text(4000), "4.0 KB");
  EXPECT_EQ(bytes_text(1234567), "1.2 MB");
  EXPECT_EQ(bytes_text(UINT64_MAX), "18446744.1 TB");
}
