// The tray's reading of the control socket's lines, against text the real
// control server renders (render_event, render_stats, render_status), and
// its autostart entry (the XDG file on Linux, the Run value on Windows).

#include <gtest/gtest.h>

#include <QTemporaryDir>

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#endif

#include "actors/control_render.hpp"
#include "app/tray/autostart.hpp"
#include "app/tray/wire.hpp"
#include "net/control_protocol.hpp"

using namespace drover;
using namespace drover::tray;

namespace {

QByteArray bytes(const std::string& s) {
  auto b = QByteArray::fromStdString(s);
  return b.endsWith('\n') ? b.chopped(1) : b;
}

} // namespace

TEST(tray_wire, reads_back_an_event_the_engine_renders) {
  engine_event e;
  e.kind = event_kind::reconnect_attempt;
  e.state = engine_state::reconnecting;
  e.failure = failure_class::proxy_unreachable;
  e.reason = "cannot reach the proxy 10.0.0.1:1080 \"quoted\" ✓";
  e.attempt = 3;
  e.time = caf::timestamp{std::chrono::milliseconds{1'700'000'000'123}};
  QString error;
  auto line = parse_line(bytes(render_event(e, true)), &error);
  ASSERT_TRUE(line) << error.toStdString();
  ASSERT_TRUE(line->event);
  EXPECT_EQ(line->event->kind, e.kind);
  EXPECT_EQ(line->event->state, e.state);
  EXPECT_EQ(line->event->failure, e.failure);
  EXPECT_EQ(line->event->reason, e.reason);
  EXPECT_EQ(line->event->attempt, 3u);
  EXPECT_EQ(line->event->time, e.time);
  EXPECT_FALSE(line->event->tcp_only);
  e.kind = event_kind::state_changed;
  e.state = engine_state::active;
  e.tcp_only = true;
  line = parse_line(bytes(render_event(e, true)), &error);
  ASSERT_TRUE(line && line->event) << error.toStdString();
  EXPECT_TRUE(line->event->tcp_only);
}

TEST(tray_wire, reads_back_counters) {
  stats_snapshot s;
  s.bytes_in = 5'000'000'000ull;
  s.bytes_out = 42;
  s.tcp_flows = 3;
  s.udp_flows = 1;
  s.packets_dropped = 7;
  s.queue_overflows = 11;
  s.packets_passed = 345;
  s.packets_held = 12;
  s.packets_unowned_passed = 2;
  s.packets_unowned_dropped = 3;
  s.no_traffic = true;
  s.active_since = caf::make_timestamp() - std::chrono::seconds{90};
  auto line = parse_line(bytes(render_stats(s)), nullptr);
  ASSERT_TRUE(line && line->stats);
  EXPECT_EQ(line->stats->bytes_in, s.bytes_in);
  EXPECT_EQ(line->stats->bytes_out, 42u);
  EXPECT_EQ(line->stats->tcp_flows, 3u);
  EXPECT_EQ(line->stats->udp_flows, 1u);
  EXPECT_EQ(line->stats->packets_dropped, 7u);
  EXPECT_EQ(line->stats->queue_overflows, 11u);
  EXPECT_EQ(line->stats->packets_passed, 345u);
  EXPECT_EQ(line->stats->packets_held, 12u);
  EXPECT_EQ(line->stats->packets_unowned_passed, 2u);
  EXPECT_EQ(line->stats->packets_unowned_dropped, 3u);
  EXPECT_TRUE(line->stats->no_traffic);
  EXPECT_GE(line->uptime_seconds, 89u);
  EXPECT_LE(line->uptime_seconds, 91u);
}

// Windows sorts every program's packets itself: `drover status` says how
// (the ones it found no owner for are where a target's could go wrong).
// Linux's kernel sorts them: no line.
TEST(tray_wire, the_status_says_how_packets_were_sorted_when_drover_did_it) {
  engine_status st;
  st.last.state = engine_state::active;
  st.last.reason = "proxying";
  auto text = render_status(st, {}, false, "/x/c.toml");
  EXPECT_EQ(text.find("Sorted:"), std::string::npos) << text;
  st.stats.packets_passed = 345;
  st.stats.packets_held = 12;
  st.stats.packets_unowned_passed = 2;
  st.stats.packets_unowned_dropped = 3;
  text = render_status(st, {}, false, "/x/c.toml");
  EXPECT_NE(text.find("Sorted:   345 packets of other programs let out, 12 "
                      "waited for their owner; with no owner found: 2 let "
                      "out, 3 dropped"),
            std::string::npos)
      << text;
  auto json = render_status(st, {}, true, "/x/c.toml");
  EXPECT_NE(json.find("\"packets_unowned_passed\":2"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"packets_unowned_dropped\":3"), std::string::npos)
      << json;
  // Only drops with no owner found (nothing let out yet): still said, as
  // the tray says it (one rule: capture_sorted_packets).
  st.stats = {};
  st.stats.packets_unowned_dropped = 4;
  text = render_status(st, {}, false, "/x/c.toml");
  EXPECT_NE(text.find("with no owner found: 0 let out, 4 dropped"),
            std::string::npos)
      << text;
}

TEST(tray_wire, reads_back_a_status_with_flows) {
  engine_status st;
  st.last.state = engine_state::active;
  st.last.reason = "proxying";
  st.stats.tcp_flows = 1;
  st.stats.active_since = caf::make_timestamp();
  flow_descriptor f;
  f.protocol = 17;
  f.pid = 4242;
  f.process = "Discord";
  f.rule = "voice";
  f.src_ip = 0x0A000001;
  f.src_port = 5000;
  f.dst_ip = 0x5DB8D822; // 93.184.216.34
  f.dst_port = 50003;
  f.bytes_in = 1000;
  f.bytes_out = 2000;
  f.started = caf::make_timestamp();
  auto status = parse_status(
      QByteArray::fromStdString(render_status(st, {f}, true, "/x/c.toml")),
      nullptr);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->last.state, engine_state::active);
  EXPECT_EQ(status->config_path, "/x/c.toml");
  ASSERT_EQ(status->flows.size(), 1u);
  EXPECT_EQ(status->flows[0].process, "Discord");
  EXPECT_EQ(status->flows[0].pid, 4242u);
  EXPECT_EQ(status->flows[0].rule, "voice");
  EXPECT_EQ(status->flows[0].protocol, "udp");
  EXPECT_EQ(status->flows[0].destination, "93.184.216.34:50003");
  EXPECT_EQ(status->flows[0].bytes_out, 2000u);
  EXPECT_TRUE(status->targets.empty());
  // The running targets, for the Apps tab.
  st.targets = {process_info{4242, 1, "Discord", "Discord"},
                process_info{77, 1, "firefox", "Browsers"}};
  status = parse_status(
      QByteArray::fromStdString(render_status(st, {f}, true, "/x/c.toml")),
      nullptr);
  ASSERT_TRUE(status);
  ASSERT_EQ(status->targets.size(), 2u);
  EXPECT_EQ(status->targets[1].pid, 77u);
  EXPECT_EQ(status->targets[1].name, "firefox");
  EXPECT_EQ(status->targets[1].rule, "Browsers");
  EXPECT_TRUE(status->lifetime.since.empty());
  // The lifetime totals (stats.json), for the window's Details.
  st.lifetime = {123456789, 42, "2026-11-30"};
  status = parse_status(
      QByteArray::fromStdString(render_status(st, {}, true, "/x/c.toml")),
      nullptr);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->lifetime, st.lifetime);
}

// Several proxies: a line for each in the window, each flow's proxy, and
// the events that say one cannot be used.
TEST(tray_wire, several_proxies_each_have_a_line_and_flows_name_theirs) {
  engine_status st;
  st.last.state = engine_state::active;
  st.last.degraded = true;
  st.proxies = {{"home", "192.0.2.1", 1080, "up", false, 0, ""},
                {"work", "192.0.2.2", 3128, "reconnecting", false, 2,
                 "TCP connect: Connection refused"}};
  flow_descriptor f;
  f.protocol = 6;
  f.rule = "browser";
  f.proxy = "work";
  f.started = caf::make_timestamp();
  auto status = parse_status(
      QByteArray::fromStdString(render_status(st, {f}, true, "/x/c.toml")),
      nullptr);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->last.degraded);
  ASSERT_EQ(status->proxies.size(), 2);
  EXPECT_EQ(status->proxies[0], "home (192.0.2.1:1080): up");
  EXPECT_EQ(status->proxies[1], "work (192.0.2.2:3128): reconnecting, attempt "
                                "2 (TCP connect: Connection refused)");
  ASSERT_EQ(status->flows.size(), 1u);
  EXPECT_EQ(status->flows[0].proxy, "work");
  // One proxy: no lines (the state says it all).
  st.proxies.resize(1);
  status = parse_status(
      QByteArray::fromStdString(render_status(st, {}, true, "/x/c.toml")),
      nullptr);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->proxies.isEmpty());
  // An event about one proxy keeps its name.
  engine_event e;
  e.kind = event_kind::reconnect_attempt;
  e.state = engine_state::active;
  e.degraded = true;
  e.proxy = "work";
  e.attempt = 2;
  auto line
      = parse_line(QByteArray::fromStdString(render_event(e, true)), nullptr);
  ASSERT_TRUE(line);
  ASSERT_TRUE(line->event);
  EXPECT_EQ(line->event->proxy, "work");
  EXPECT_TRUE(line->event->degraded);
}

// The engine's heartbeat to a quiet follower: a line, nothing to show.
TEST(tray_wire, a_heartbeat_is_a_line_with_nothing_in_it) {
  QString error;
  auto line = parse_line(QByteArray::fromStdString(std::string{
                             drover::net::control::follow_heartbeat_json}),
                         &error);
  ASSERT_TRUE(line) << error.toStdString();
  EXPECT_FALSE(line->event);
  EXPECT_FALSE(line->stats);
}

TEST(tray_wire, refuses_what_the_engine_never_sends) {
  QString error;
  EXPECT_FALSE(parse_line("not json", &error));
  EXPECT_FALSE(error.isEmpty());
  EXPECT_FALSE(parse_line(R"({"type":"event","kind":"explode","state":"idle",)"
                          R"("failure":"none"})",
                          &error));
  EXPECT_TRUE(error.contains("unknown"));
  EXPECT_FALSE(parse_line(R"({"type":"other"})", &error));
  EXPECT_FALSE(parse_line("[1,2]", &error));
}

TEST(tray_autostart, entry_quotes_a_path_with_spaces_and_reads_it_back) {
  auto plain = autostart_entry("/usr/local/bin/drover");
  EXPECT_TRUE(plain.contains("\nExec=/usr/local/bin/drover\n"));
  EXPECT_EQ(entry_program(plain), "/usr/local/bin/drover");
  QString odd = R"(/home/a b/$x "q"/drover)";
  auto entry = autostart_entry(odd);
  EXPECT_TRUE(entry.contains(R"(Exec="/home/a b/\\$x \\"q\\"/drover")"))
      << entry.toStdString();
  EXPECT_EQ(entry_program(entry), odd);
  EXPECT_TRUE(entry_enabled(entry));
}

TEST(tray_autostart, the_desktops_own_off_switch_wins) {
  auto entry = autostart_entry("/usr/bin/drover");
  EXPECT_FALSE(entry_enabled(entry + "Hidden=true\n"));
  auto off = entry;
  off.replace("X-GNOME-Autostart-enabled=true",
              "X-GNOME-Autostart-enabled=false");
  EXPECT_FALSE(entry_enabled(off));
  EXPECT_FALSE(entry_enabled("[Desktop Entry]\nName=Drover\n"));
}

#ifdef _WIN32
// Windows: the tray's switch is the Run value in the registry (wine's,
// here); the values' meaning is tested in startup_entry_test.
TEST(tray_autostart, toggles_and_heals_a_moved_program) {
  autostart old_place{autostart::default_entry_path(),
                      R"(C:\Program Files\Drover\drover.exe)"};
  ASSERT_TRUE(old_place.set_enabled(false).isEmpty());
  EXPECT_FALSE(old_place.enabled());
  EXPECT_FALSE(old_place.heal()) << "off stays off";
  ASSERT_TRUE(old_place.set_enabled(true).isEmpty());
  EXPECT_TRUE(old_place.enabled());
  autostart moved{autostart::default_entry_path(), R"(D:\Drover\drover.exe)"};
  EXPECT_TRUE(moved.heal());
  EXPECT_FALSE(moved.heal()); // already right
  EXPECT_TRUE(moved.enabled());
  wchar_t value[512] = {};
  DWORD size = sizeof value;
  ASSERT_EQ(RegGetValueW(HKEY_CURRENT_USER,
                         L"Software\\Microsoft\\Windows\\CurrentVersion\\Run",
                         L"Drover", RRF_RT_REG_SZ, nullptr, value, &size),
            ERROR_SUCCESS);
  EXPECT_EQ(std::wstring{value}, LR"("D:\Drover\drover.exe")");
  ASSERT_TRUE(moved.set_enabled(false).isEmpty());
  EXPECT_FALSE(moved.enabled());
  EXPECT_NE(RegGetValueW(HKEY_CURRENT_USER,
                         L"Software\\Microsoft\\Windows\\CurrentVersion\\Run",
                         L"Drover", RRF_RT_REG_SZ, nullptr, nullptr, nullptr),
            ERROR_SUCCESS);
}
#else
TEST(tray_autostart, toggles_and_heals_a_moved_program) {
  QTemporaryDir dir;
  auto path = dir.path() + "/autostart/drover.desktop";
  autostart old_place{path, "/opt/old/drover"};
  EXPECT_FALSE(old_place.enabled());
  EXPECT_TRUE(old_place.set_enabled(true).isEmpty());
  EXPECT_TRUE(old_place.enabled());
  autostart moved{path, "/opt/new/drover"};
  EXPECT_TRUE(moved.heal());
  EXPECT_FALSE(moved.heal()); // already right
  QFile f{path};
  ASSERT_TRUE(f.open(QIODevice::ReadOnly));
  EXPECT_EQ(entry_program(QString::fromUtf8(f.readAll())), "/opt/new/drover");
  EXPECT_TRUE(moved.set_enabled(false).isEmpty());
  EXPECT_FALSE(moved.enabled());
  EXPECT_FALSE(QFile::exists(path));
  EXPECT_FALSE(moved.heal()); // off stays off
}
#endif
