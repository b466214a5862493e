// The field tables (config/fields.hpp) against what depends on them: the
// docs' key tables name exactly the keys the tables know, and every key
// makes two settings differ when only it changes.

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "config/fields.hpp"
#include "config/parse.hpp"

using namespace drover::config;

namespace {

// docs/config.md's key rows ("| `key` | ...") under each "## `[section]`".
std::map<std::string, std::set<std::string>> documented_keys() {
  std::ifstream in{std::string{DROVER_SOURCE_DIR} + "/docs/config.md"};
  std::map<std::string, std::set<std::string>> out;
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## `[", 0) == 0) {
      auto end = line.find("]`");
      section = line.substr(5, end - 5);
      // "## `[[rule]]`": an array of tables.
      while (!section.empty() && section.front() == '[')
        section.erase(0, 1);
      while (!section.empty() && section.back() == ']')
        section.pop_back();
    } else if (line.rfind("## ", 0) == 0) {
      section.clear();
    } else if (!section.empty() && line.rfind("| `", 0) == 0) {
      auto end = line.find('`', 3);
      out[section].insert(line.substr(3, end - 3));
    }
  }
  return out;
}

} // namespace

TEST(config_fields, the_docs_list_exactly_the_keys_of_each_section) {
  auto docs = documented_keys();
  ASSERT_FALSE(docs.empty()) << "docs/config.md has no key tables";
  std::set<std::string> sections;
  for (auto& [name, keys] : known_keys()) {
    sections.insert(std::string{name});
    std::set<std::string> known(keys.begin(), keys.end());
    EXPECT_EQ(docs[std::string{name}], known)
        << "docs/config.md's table for [" << name
        << "] differs from config/fields.cpp";
  }
  for (auto& [name, keys] : docs)
    EXPECT_TRUE(sections.count(name) == 1)
        << "docs/config.md documents [" << name << "], which Drover lacks";
}

// Each key written with a value other than its default reads back
// different from the defaults: the table's reader, writer and equality
// agree for every key.
TEST(config_fields, every_key_on_its_own_makes_the_settings_differ) {
  std::map<std::string, std::string> changed = {
      {"proxy.name", "\"home\""},
      {"proxy.host", "\"other.example\""},
      {"proxy.port", "1081"},
      // (a login and a password come with it: the section's own check)
      {"proxy.auth", "true\nlogin = \"u\"\npassword = \"p\""},
      {"proxy.login", "\"u\""},
      {"proxy.password", "\"p\""},
      {"proxy.udp_associate_timeout", "\"6s\""},
      {"proxy.tcp_connect_timeout", "\"11s\""},
      {"proxy.connect_by_name", "false"},
      {"proxy.spare_connections", "0"},
      {"proxy.type", "\"http\""},
      {"rule.name", "\"n\""},
      {"rule.apps", "[\"a.exe\"]"},
      {"rule.paths", "[\"/usr/bin/x\"]"},
      {"rule.folders", "[\"C:\\\\Apps\"]"},
      {"rule.children", "true"},
      {"rule.action", "\"block\""},
      {"rule.fallback", "\"direct\""},
      // (the proxy it names comes with it)
      {"rule.proxy", "\"home\"\n[proxy]\nname = \"home\""},
      {"targets.when_not_proxying", "\"direct\""},
      {"skip.extra_skip_cidrs", "[\"10.0.0.0/8\"]"},
      {"skip.multicast", "false"},
      {"ui.log_level", "\"debug\""},
      {"ui.log_max_mb", "11"},
      {"ui.log_backups", "4"},
      {"ui.tray_icon", "false"},
      {"ui.auto_start", "true"},
      {"ui.shown_tray_toast", "true"},
      {"ui.theme", "\"light\""},
      {"update.check_on_startup", "false"},
      {"update.forgejo_repo", "\"example.org/x/y\""},
      {"engine.heartbeat_interval", "\"6s\""},
      {"engine.no_traffic_warn_after", "\"31s\""},
      {"engine.reconnect_backoff_initial", "\"2s\""},
      {"engine.reconnect_backoff_max", "\"31s\""},
      {"engine.reconnect_total_cap", "\"6m\""},
      {"engine.tcp_idle_timeout", "\"31m\""},
      {"engine.udp_idle_timeout", "\"6m\""},
      {"engine.max_flows", "100"},
      {"check.tcp_target", "\"example.org:80\""},
      {"check.udp_target", "\"stun.example.org:3478\""},
      {"metrics.listen", "\"127.0.0.1:9464\""},
  };
  size_t keys = 0;
  for (auto& [section, names] : known_keys())
    for (auto name : names) {
      ++keys;
      auto dotted = std::string{section} + "." + std::string{name};
      auto it = changed.find(dotted);
      ASSERT_NE(it, changed.end()) << "no changed value for " << dotted;
      // A rule is a [[rule]] table, and needs a program to match.
      auto text
          = section == "rule"
                ? "[[rule]]\n"
                      + std::string{name == "apps" ? "" : "apps = [\"x\"]\n"}
                : "[" + std::string{section} + "]\n";
      text += std::string{name} + " = " + it->second + "\n";
      auto r = parse(text, "test.toml");
      ASSERT_TRUE(r.ok()) << dotted << ": "
                          << (r.errors.empty() ? "" : r.errors[0].message);
      EXPECT_NE(*r.value, settings{}) << dotted << " changed nothing";
      EXPECT_EQ(parse(serialize(*r.value), "again.toml").value, r.value)
          << dotted << " does not survive a write and a read";
    }
  EXPECT_EQ(keys, changed.size());
}
