#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "config/migrate.hpp"
#include "config/parse.hpp"

using namespace drover::config;
using namespace std::chrono_literals;

namespace {

// Parses text that must be valid; fails the test with the errors otherwise.
settings parse_ok(const std::string& text) {
  auto r = parse(text, "config.toml");
  EXPECT_TRUE(r.ok()) << to_string(r.errors);
  return r.value.value_or(settings{});
}

// Parses text that must have exactly one error and returns it.
diagnostic single_error(const std::string& text) {
  auto r = parse(text, "config.toml");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors.size(), 1u) << to_string(r.errors);
  return r.errors.empty() ? diagnostic{} : r.errors.front();
}

} // namespace

TEST(config_defaults, empty_file_gives_every_default) {
  auto s = parse_ok("");
  EXPECT_EQ(s.version, 2);
  EXPECT_EQ(s.proxies[0].host, "95.165.72.59");
  EXPECT_EQ(s.proxies[0].port, 12334);
  EXPECT_FALSE(s.proxies[0].auth);
  EXPECT_EQ(s.proxies[0].login, "");
  EXPECT_EQ(s.proxies[0].password, "");
  EXPECT_EQ(s.proxies[0].udp_associate_timeout, 5s);
  EXPECT_EQ(s.proxies[0].tcp_connect_timeout, 10s);
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].name, "Discord");
  EXPECT_EQ(s.rules[0].apps,
            (std::vector<std::string>{"Discord.exe", "DiscordCanary.exe",
                                      "DiscordPTB.exe", "Update.exe"}));
  EXPECT_EQ(s.rules[0].action, rule_action::proxy);
  EXPECT_FALSE(s.rules[0].children);
  EXPECT_EQ(s.targets.when_not_proxying, not_proxying::block);
  EXPECT_TRUE(s.skip.extra_skip_cidrs.empty());
  EXPECT_TRUE(s.skip.multicast);
  EXPECT_EQ(s.ui.level, log_level::info);
  EXPECT_EQ(s.ui.log_max_mb, 10u);
  EXPECT_EQ(s.ui.log_backups, 3u);
  EXPECT_TRUE(s.ui.tray_icon);
  EXPECT_FALSE(s.ui.auto_start);
  EXPECT_FALSE(s.ui.shown_tray_toast);
  EXPECT_EQ(s.ui.theme, ui_theme::dark);
  EXPECT_TRUE(s.update.check_on_startup);
  EXPECT_EQ(s.update.forgejo_repo, "git.okcu.io/root/drover-go");
  EXPECT_EQ(s.engine.heartbeat_interval, 5s);
  EXPECT_EQ(s.engine.no_traffic_warn_after, 30s);
  EXPECT_EQ(s.engine.reconnect_backoff_initial, 1s);
  EXPECT_EQ(s.engine.reconnect_backoff_max, 30s);
  EXPECT_EQ(s.engine.reconnect_total_cap, 5min);
  EXPECT_EQ(s.engine.tcp_idle_timeout, 30min);
  EXPECT_EQ(s.engine.udp_idle_timeout, 5min);
  EXPECT_EQ(s.engine.max_flows, 16384u);
  EXPECT_EQ(s, settings{});
}

TEST(config_defaults, shipped_file_is_the_serialized_defaults) {
  std::ifstream in{std::string{DROVER_SOURCE_DIR} + "/config/config.toml",
                   std::ios::binary};
  ASSERT_TRUE(in) << "config/config.toml is missing";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), serialize(settings{}))
      << "regenerate with: drover config default > config/config.toml";
  EXPECT_EQ(parse_ok(text.str()), settings{});
}

TEST(config_parse, reads_every_key) {
  auto s = parse_ok(R"(
version = 1
[proxy]
host = "proxy.example.org"
port = 1080
auth = true
login = "alice"
password = "s3cret"
udp_associate_timeout = "2s"
tcp_connect_timeout = "500ms"
[targets]
processes = ["Discord", "vesktop"]
include_vesktop = true
[skip]
extra_skip_cidrs = ["10.0.0.0/8", "192.0.2.7"]
multicast = false
[ui]
log_level = "debug"
log_max_mb = 5
log_backups = 0
tray_icon = false
auto_start = true
shown_tray_toast = true
theme = "auto"
[update]
check_on_startup = false
forgejo_repo = "example.org/o/repo"
[engine]
heartbeat_interval = "10s"
no_traffic_warn_after = "1m"
reconnect_backoff_initial = "2s"
reconnect_backoff_max = "1m"
reconnect_total_cap = "1h"
tcp_idle_timeout = "10m"
udp_idle_timeout = "90s"
max_flows = 1000
)");
  EXPECT_EQ(s.proxies[0].host, "proxy.example.org");
  EXPECT_EQ(s.proxies[0].port, 1080);
  EXPECT_TRUE(s.proxies[0].auth);
  EXPECT_EQ(s.proxies[0].login, "alice");
  EXPECT_EQ(s.proxies[0].password, "s3cret");
  EXPECT_EQ(s.proxies[0].udp_associate_timeout, 2s);
  EXPECT_EQ(s.proxies[0].tcp_connect_timeout, 500ms);
  // A version 1 file: its list of programs is now the first rule.
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].apps,
            (std::vector<std::string>{"Discord", "vesktop", "Vesktop.exe"}));
  ASSERT_EQ(s.skip.extra_skip_cidrs.size(), 2u);
  EXPECT_EQ(drover::net::to_string(s.skip.extra_skip_cidrs[0]), "10.0.0.0/8");
  EXPECT_EQ(drover::net::to_string(s.skip.extra_skip_cidrs[1]), "192.0.2.7/32");
  EXPECT_FALSE(s.skip.multicast);
  EXPECT_EQ(s.ui.level, log_level::debug);
  EXPECT_EQ(s.ui.log_max_mb, 5u);
  EXPECT_EQ(s.ui.log_backups, 0u);
  EXPECT_FALSE(s.ui.tray_icon);
  EXPECT_TRUE(s.ui.auto_start);
  EXPECT_TRUE(s.ui.shown_tray_toast);
  EXPECT_EQ(s.ui.theme, ui_theme::automatic);
  EXPECT_FALSE(s.update.check_on_startup);
  EXPECT_EQ(s.update.forgejo_repo, "example.org/o/repo");
  EXPECT_EQ(s.engine.heartbeat_interval, 10s);
  EXPECT_EQ(s.engine.no_traffic_warn_after, 1min);
  EXPECT_EQ(s.engine.reconnect_backoff_initial, 2s);
  EXPECT_EQ(s.engine.reconnect_backoff_max, 1min);
  EXPECT_EQ(s.engine.reconnect_total_cap, 1h);
  EXPECT_EQ(s.engine.tcp_idle_timeout, 10min);
  EXPECT_EQ(s.engine.udp_idle_timeout, 90s);
  EXPECT_EQ(s.engine.max_flows, 1000u);
}

TEST(config_parse, round_trips_through_serialize) {
  settings s;
  s.proxies[0].host = "10.1.2.3";
  s.proxies[0].auth = true;
  s.proxies[0].login = "bob";
  s.proxies[0].password = "p\"a\\ss\tw\x01rd";
  s.rules = {discord_rule(), discord_rule()};
  s.rules[0].apps = {"Discord.exe", "Disc*?"};
  s.rules[1].name = "";
  s.rules[1].paths = {"/opt/x/bin/x"};
  s.rules[1].folders = {"C:\\Apps\\"};
  s.rules[1].children = true;
  s.rules[1].action = rule_action::block;
  s.skip.extra_skip_cidrs = {*drover::net::parse_ipv4_cidr("172.16.0.0/12")};
  s.ui.level = log_level::trace;
  s.engine.reconnect_backoff_initial = 1500ms;
  EXPECT_EQ(parse_ok(serialize(s)), s);
}

// -- each kind of bad value, with its location ------------------------------

TEST(config_errors, port_out_of_range_names_key_value_and_place) {
  auto e = single_error("[proxy]\nhost = \"1.2.3.4\"\n\n\nport = 70000\n");
  EXPECT_EQ(e.key, "proxy.port");
  EXPECT_EQ(e.line, 5u);
  EXPECT_EQ(e.column, 8u);
  EXPECT_EQ(e.to_string(),
            "`proxy.port` must be 1..65535, got 70000 at config.toml:5:8");
}

TEST(config_errors, wrong_type) {
  auto e = single_error("[proxy]\nport = \"1080\"\n");
  EXPECT_EQ(e.key, "proxy.port");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 8u);
  EXPECT_NE(e.message.find("must be a whole number"), std::string::npos);
  EXPECT_NE(e.message.find("\"1080\""), std::string::npos);
}

TEST(config_errors, boolean_expected) {
  auto e = single_error("[skip]\nmulticast = \"yes\"\n");
  EXPECT_EQ(e.key, "skip.multicast");
  EXPECT_EQ(e.line, 2u);
  EXPECT_NE(e.message.find("true or false"), std::string::npos);
}

TEST(config_errors, bad_durations_are_rejected_strictly) {
  for (auto bad : {"\"5\"", "\"5 s\"", "\"-1s\"", "\"1.5s\"", "\"5sec\"",
                   "\"s\"", "5", "\"\""}) {
    auto e = single_error(std::string{"[engine]\nheartbeat_interval = "} + bad
                          + "\n");
    EXPECT_EQ(e.key, "engine.heartbeat_interval") << bad;
    EXPECT_EQ(e.line, 2u) << bad;
    EXPECT_EQ(e.column, 22u) << bad;
    EXPECT_NE(e.message.find("must be a duration"), std::string::npos) << bad;
  }
}

TEST(config_errors, duration_out_of_range) {
  auto e = single_error("[proxy]\ntcp_connect_timeout = \"1h\"\n");
  EXPECT_EQ(e.key, "proxy.tcp_connect_timeout");
  EXPECT_EQ(e.message,
            "`proxy.tcp_connect_timeout` must be between 100ms and 5m, got 1h");
}

TEST(config_errors, backoff_order) {
  auto e = single_error("[engine]\nreconnect_backoff_initial = \"1m\"\n"
                        "reconnect_backoff_max = \"30s\"\n");
  EXPECT_EQ(e.key, "engine.reconnect_backoff_max");
  EXPECT_EQ(e.line, 3u);
}

TEST(config_errors, unknown_enum_value_lists_the_choices) {
  auto e = single_error("[ui]\nlog_level = \"verbose\"\n");
  EXPECT_EQ(e.key, "ui.log_level");
  EXPECT_NE(e.message.find("\"trace\", \"debug\", \"info\""),
            std::string::npos);
  EXPECT_NE(e.message.find("\"verbose\""), std::string::npos);
}

TEST(config_errors, bad_cidr_points_at_the_element) {
  auto e = single_error(
      "[skip]\nextra_skip_cidrs = [\"10.0.0.0/8\", \"10.0.0/8\"]\n");
  EXPECT_EQ(e.key, "skip.extra_skip_cidrs[1]");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 35u);
  auto host_bits
      = single_error("[skip]\nextra_skip_cidrs = [\"10.0.0.1/8\"]\n");
  EXPECT_EQ(host_bits.key, "skip.extra_skip_cidrs[0]");
}

TEST(config_errors, process_names_not_paths) {
  auto e
      = single_error("[[rule]]\napps = [\"C:\\\\Discord\\\\Discord.exe\"]\n");
  EXPECT_EQ(e.key, "rule[0].apps[0]");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 9u);
  EXPECT_NE(e.message.find("not empty and not a path"), std::string::npos);
}

TEST(config_errors, bad_host) {
  EXPECT_EQ(single_error("[proxy]\nhost = \"\"\n").key, "proxy.host");
  auto v6 = single_error("[proxy]\nhost = \"::1\"\n");
  EXPECT_NE(v6.message.find("IPv6"), std::string::npos);
  EXPECT_EQ(single_error("[proxy]\nhost = \"a b\"\n").key, "proxy.host");
}

TEST(config_errors, auth_needs_credentials) {
  auto r = parse("[proxy]\nauth = true\n", "config.toml");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].key, "proxy.login");
  EXPECT_EQ(r.errors[1].key, "proxy.password");
}

TEST(config_errors, secrets_are_never_echoed) {
  auto e = single_error("[proxy]\npassword = 123456789\n");
  EXPECT_EQ(e.key, "proxy.password");
  EXPECT_EQ(e.to_string().find("123456789"), std::string::npos);
  auto long_pw = std::string(300, 'x');
  auto too_long = single_error("[proxy]\nauth = true\nlogin = \"u\"\n"
                               "password = \""
                               + long_pw + "\"\n");
  EXPECT_EQ(too_long.key, "proxy.password");
  EXPECT_EQ(too_long.to_string().find("xxxx"), std::string::npos);
}

// A password the parser cannot read (a stray quote, a bad escape, an
// unclosed multi-line string): the parser's own words would quote a piece
// of it, so the message says where and how to fix it, not what it saw.
TEST(config_errors, a_syntax_error_in_a_credential_shows_none_of_it) {
  struct broken {
    std::string text;
    std::string piece;
    uint32_t line;
  };
  for (auto& b : std::vector<broken>{
           {"[proxy]\nauth = true\nlogin = \"u\"\npassword = \"ab\"Qz\"\n",
            "Qz", 4},
           {"[proxy]\npassword = \"ab\\qZ\"\n", "\\q", 2},
           {"[proxy]\nlogin = \"me\x01\"\n", "\\u0001", 2},
           {"[proxy]\n\"password\" = \"\"\"Se\ncret Part\n", "Part", 2},
           {"proxy.password = 'it's'\n", "s'", 1},
       }) {
    auto r = parse(b.text, "config.toml");
    ASSERT_EQ(r.errors.size(), 1u) << b.text;
    auto said = r.errors[0].to_string();
    EXPECT_EQ(said.find(b.piece), std::string::npos) << said;
    EXPECT_NE(said.find("it is a credential"), std::string::npos) << said;
    EXPECT_GE(r.errors[0].line, b.line) << said;
  }
  // Elsewhere the parser's words stay: they help.
  auto r
      = parse("[proxy]\nhost = \"ab\\qZ\"\npassword = \"x\"\n", "config.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string().find("credential"), std::string::npos)
      << r.errors[0].to_string();
}

TEST(config_errors, syntax_error_has_line_and_column) {
  auto r = parse("[proxy]\nport = 1080\nhost = \n", "bad.toml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "bad.toml");
  EXPECT_EQ(r.errors[0].line, 3u);
  EXPECT_GT(r.errors[0].column, 0u);
}

TEST(config_errors, section_of_the_wrong_type) {
  auto e = single_error("proxy = 5\n");
  EXPECT_EQ(e.key, "proxy");
  EXPECT_NE(e.message.find("must be a section"), std::string::npos);
}

TEST(config_errors, all_errors_are_reported_at_once) {
  auto r = parse("[proxy]\nport = 0\n[ui]\nlog_max_mb = 0\ntheme = 3\n",
                 "config.toml");
  EXPECT_EQ(r.errors.size(), 3u) << to_string(r.errors);
}

// -- warnings
// ------------------------------------------------------------------

TEST(config_warnings, unknown_keys_are_warnings_with_a_hint) {
  auto r = parse("[proxy]\nhots = \"x\"\n[uii]\n", "config.toml");
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].key, "proxy.hots");
  EXPECT_EQ(r.warnings[0].line, 2u);
  EXPECT_EQ(r.warnings[0].column, 1u);
  EXPECT_NE(r.warnings[0].message.find("did you mean `proxy.host`?"),
            std::string::npos);
  EXPECT_EQ(r.warnings[1].key, "uii");
  EXPECT_NE(r.warnings[1].message.find("did you mean `ui`?"),
            std::string::npos);
  EXPECT_EQ(r.warnings[0].to_string().rfind("warning: ", 0), 0u);
}

TEST(config_warnings, credentials_without_auth) {
  auto r = parse("[proxy]\nlogin = \"alice\"\n", "config.toml");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].key, "proxy.auth");
}

TEST(config_warnings, empty_and_duplicate_targets) {
  // Version 1's list, migrated: empty is no rule at all.
  auto empty = parse("[targets]\nprocesses = []\n", "c");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value->rules.empty());
  ASSERT_EQ(empty.warnings.size(), 1u);
  EXPECT_NE(empty.warnings[0].message.find("no rules"), std::string::npos);
  auto dup = parse("[targets]\nprocesses = [\"a\", \"a\"]\n", "c");
  ASSERT_TRUE(dup.ok());
  ASSERT_EQ(dup.value->rules.size(), 1u);
  EXPECT_EQ(dup.value->rules[0].apps, std::vector<std::string>{"a"});
  ASSERT_EQ(dup.warnings.size(), 1u);
  EXPECT_EQ(dup.warnings[0].line, 2u) << "points at the line written";
}

// -- versions and migration
// ------------------------------------------------------

TEST(config_version, missing_version_is_version_one_brought_up_to_date) {
  auto s = parse_ok("[proxy]\nport = 1\n");
  EXPECT_EQ(s.version, current_version);
  EXPECT_EQ(s.rules, std::vector<app_rule>{discord_rule()});
}

TEST(config_version, newer_version_is_refused) {
  auto e = single_error("version = 3\n");
  EXPECT_EQ(e.key, "version");
  EXPECT_NE(e.message.find("newer Drover"), std::string::npos);
  EXPECT_EQ(single_error("version = 0\n").key, "version");
}

TEST(config_version, migrations_run_in_order_and_stamp_the_version) {
  auto doc = toml::parse("[proxy]\naddress = \"1.2.3.4\"\n");
  std::vector<int> ran;
  std::vector<migration> steps = {
      {2,
       [&](toml::table& t) {
         ran.push_back(2);
         auto* p = t["proxy"].as_table();
         p->insert_or_assign("host", *p->get_as<std::string>("address"));
         p->erase("address");
       }},
      {1,
       [&](toml::table&) {
         ran.push_back(1);
       }},
  };
  ASSERT_TRUE(migrate(doc, 1, 3, steps));
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(doc["version"].value<int64_t>(), 3);
  EXPECT_EQ(doc["proxy"]["host"].value<std::string>(), "1.2.3.4");
  EXPECT_FALSE(migrate(doc, 3, 5, steps)) << "no step from 3";
  ASSERT_EQ(known_migrations().size(), 1u);
  EXPECT_EQ(known_migrations()[0].from, 1);
}

// -- [check] ------------------------------------------------------------------

TEST(config_check, targets_are_host_and_port) {
  auto s = parse_ok("[check]\ntcp_target = \"10.0.0.7:8443\"\n"
                    "udp_target = \"stun.example.org:3478\"\n");
  EXPECT_EQ(s.check.tcp_target, (host_port{"10.0.0.7", 8443}));
  EXPECT_EQ(s.check.udp_target, (host_port{"stun.example.org", 3478}));
}

TEST(config_check, a_target_without_a_port_names_key_value_and_place) {
  auto e = single_error("[check]\ntcp_target = \"discord.com\"\n");
  EXPECT_EQ(e.key, "check.tcp_target");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 14u);
  EXPECT_NE(e.message.find("\"discord.com\""), std::string::npos);
  EXPECT_NE(e.message.find("discord.com:443"), std::string::npos);
}

TEST(config_check, host_port_refuses_what_is_not_one) {
  for (auto bad : {"", ":443", "host:", "host:0", "host:65536", "host:4a3",
                   "ho st:1", "[::1]:443", "host:123456"})
    EXPECT_FALSE(parse_host_port(bad)) << bad;
  EXPECT_EQ(parse_host_port("a:1")->port, 1u);
  EXPECT_EQ(parse_host_port("a.b-c:65535")->host, "a.b-c");
}

// `[metrics] listen`: off by default and when empty; a loopback address
// and port, or an error naming the key, its place and what is allowed.
TEST(config_parse, metrics_listen_is_loopback_only) {
  EXPECT_FALSE(parse_ok("").metrics.listen) << "off by default";
  EXPECT_FALSE(parse_ok("[metrics]\nlisten = \"\"\n").metrics.listen);
  auto on = parse_ok("[metrics]\nlisten = \"127.0.0.1:9464\"\n");
  ASSERT_TRUE(on.metrics.listen);
  EXPECT_EQ(on.metrics.listen->text(), "127.0.0.1:9464");
  EXPECT_EQ(parse_ok(serialize(on)), on) << "round trips";
  EXPECT_TRUE(
      parse_ok("[metrics]\nlisten = \"127.8.9.10:80\"\n").metrics.listen);
  for (auto bad : {"0.0.0.0:9464", "192.168.1.2:9464", "localhost:9464",
                   "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000"}) {
    auto d = single_error(std::string{"[metrics]\nlisten = \""} + bad + "\"\n");
    EXPECT_EQ(d.key, "metrics.listen") << bad;
    EXPECT_EQ(d.line, 2) << bad;
    EXPECT_NE(d.message.find("must be a loopback address and a port"),
              std::string::npos)
        << d.message;
  }
  EXPECT_EQ(single_error("[metrics]\nlisten = 9464\n").key, "metrics.listen");
}

// `[update] forgejo_repo`: host[:port][/path]/owner/repository, with or
// without a scheme; anything else is an error at its place, before the
// tray asks a server that cannot be one.
TEST(config_parse, forgejo_repo_names_a_repository) {
  for (auto good : {"git.okcu.io/root/drover-go", "codeberg.org/a/b/",
                    "https://example.org/forgejo/a/b",
                    "http://127.0.0.1:3000/drover/newer"})
    EXPECT_EQ(
        parse_ok(std::string{"[update]\nforgejo_repo = \""} + good + "\"\n")
            .update.forgejo_repo,
        good);
  for (auto bad : {"", "drover-go", "host/only", "ftp://h/a/b", "h/a b/c",
                   "h/a/../b", "h//a/b", "h/a/b?x=1"}) {
    auto d = single_error(std::string{"[update]\nforgejo_repo = \""} + bad
                          + "\"\n");
    EXPECT_EQ(d.key, "update.forgejo_repo") << bad;
    EXPECT_EQ(d.line, 2) << bad;
    EXPECT_NE(d.message.find("must be host/owner/repository"),
              std::string::npos)
        << d.message;
  }
}
