// The `[[rule]]` tables: read with located errors, written back, brought
// over from version 1's list of programs (both ways: the old file in, the
// new file out, nothing lost), and the matcher the rules are applied with
// outside the kernel (Windows' capture, procscan, the Flows view).

#include <string>

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "config/rule_match.hpp"
#include "tests/config/parse_helpers.hpp"

using namespace drover::config;

using drover::config::testing::errors_of;
using drover::config::testing::parse_ok;

namespace {

process_names named(std::string name, std::string path = {}) {
  return {std::move(name), {}, std::move(path)};
}

} // namespace

// -- reading ------------------------------------------------------------------

TEST(config_rules, every_key_of_a_rule_is_read_in_order) {
  auto s = parse_ok(R"(version = 2
[[rule]]
name = "games"
folders = ["C:\\Games", "/opt/games"]
action = "block"

[[rule]]
apps = ["Discord*", "vesktop"]
paths = ["/usr/bin/launcher"]
children = true
)");
  ASSERT_EQ(s.rules.size(), 2u);
  EXPECT_EQ(s.rules[0].name, "games");
  EXPECT_EQ(s.rules[0].folders,
            (std::vector<std::string>{"C:\\Games", "/opt/games"}));
  EXPECT_TRUE(s.rules[0].apps.empty());
  EXPECT_EQ(s.rules[0].action, rule_action::block);
  EXPECT_EQ(s.rules[1].name, "");
  EXPECT_EQ(s.rules[1].apps, (std::vector<std::string>{"Discord*", "vesktop"}));
  EXPECT_EQ(s.rules[1].paths, std::vector<std::string>{"/usr/bin/launcher"});
  EXPECT_TRUE(s.rules[1].children);
  EXPECT_EQ(s.rules[1].action, rule_action::proxy) << "the default action";
  EXPECT_EQ(rule_label(s.rules, 1), "rule 2");
  EXPECT_EQ(rule_label(s.rules, 0), "games");
}

TEST(config_rules, each_mistake_is_named_with_its_place) {
  struct bad {
    std::string text;
    const char* key;
    uint32_t line;
    const char* says;
  };
  for (auto& b : std::vector<bad>{
           {"[[rule]]\naction = \"proxy\"\n", "rule[0]", 1,
            "matches no program"},
           {"[[rule]]\napps = []\n", "rule[0]", 1, "matches no program"},
           {"[[rule]]\napps = [\"x\"]\naction = \"tunnel\"\n", "rule[0].action",
            3, "one of"},
           {"[[rule]]\napps = [\"x\"]\n[[rule]]\napps = [\"a/b\"]\n",
            "rule[1].apps[0]", 4, "not a path"},
           {"[[rule]]\npaths = [\"Discord.exe\"]\n", "rule[0].paths[0]", 2,
            "full path"},
           {"[[rule]]\nfolders = [\"~/Apps\"]\n", "rule[0].folders[0]", 2,
            "full path"},
           {"[[rule]]\napps = [\"x\"]\nchildren = \"yes\"\n",
            "rule[0].children", 3, "true or false"},
           {"[rule]\napps = [\"x\"]\n", "rule", 1, "[[rule]]"},
           {"rule = [1, 2]\n", "rule", 1, "[[rule]]"},
           {"[[rule]]\napps = [\"" + std::string(64, 'a') + "\"]\n",
            "rule[0].apps[0]", 2, "at most 63"},
       }) {
    auto errors = errors_of(b.text);
    ASSERT_EQ(errors.size(), 1u) << b.text << to_string(errors);
    EXPECT_EQ(errors[0].key, b.key) << b.text;
    EXPECT_EQ(errors[0].line, b.line) << b.text;
    EXPECT_NE(errors[0].message.find(b.says), std::string::npos)
        << errors[0].message;
  }
}

TEST(config_rules, limits_are_errors_and_doubtful_things_warnings) {
  std::string many;
  for (int i = 0; i < 33; ++i)
    many += "[[rule]]\napps = [\"p" + std::to_string(i) + "\"]\n";
  auto too_many = errors_of(many);
  ASSERT_EQ(too_many.size(), 1u);
  EXPECT_NE(too_many[0].message.find("at most 32"), std::string::npos);
  std::string patterns = "[[rule]]\napps = [";
  for (int i = 0; i < 17; ++i)
    patterns += "\"p" + std::to_string(i) + "*\",";
  auto wild = errors_of(patterns + "]\n");
  ASSERT_EQ(wild.size(), 1u);
  EXPECT_NE(wild[0].message.find("at most 16"), std::string::npos);

  auto r = parse("[[rule]]\nname = \"a\"\napps = [\"x\"]\nfolder = [\"/x\"]\n"
                 "[[rule]]\nname = \"a\"\napps = [\"y\"]\n",
                 "c");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 2u) << to_string(r.warnings);
  EXPECT_EQ(r.warnings[0].key, "rule[1].name");
  EXPECT_EQ(r.warnings[1].key, "rule[0].folder");
  EXPECT_NE(r.warnings[1].message.find("did you mean `rule[0].folders`"),
            std::string::npos);
  auto none = parse("version = 2\nrule = []\n", "c");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value->rules.empty());
  ASSERT_EQ(none.warnings.size(), 1u);
  // Written back: still none (an absent `rule` would be the default one).
  auto again = parse(serialize(*none.value), "again");
  ASSERT_TRUE(again.ok()) << to_string(again.errors);
  EXPECT_TRUE(again.value->rules.empty());
}

// -- version 1 files
// ------------------------------------------------------------

TEST(config_rules, a_version_1_file_comes_in_whole_and_goes_out_as_rules) {
  const std::string old_file = R"(# my settings
[proxy]
host = "10.0.0.1"
port = 1080
[targets]
processes = ["Discord.exe", "Telegram"]
include_vesktop = true
when_not_proxying = "direct"
[skip]
extra_skip_cidrs = ["10.0.0.0/8"]
)";
  auto old_settings = parse_ok(old_file);
  ASSERT_EQ(old_settings.rules.size(), 1u);
  auto& rule = old_settings.rules[0];
  EXPECT_EQ(rule.name, "Discord");
  EXPECT_EQ(rule.apps, (std::vector<std::string>{"Discord.exe", "Telegram",
                                                 "Vesktop.exe", "vesktop"}));
  EXPECT_EQ(rule.action, rule_action::proxy);
  EXPECT_EQ(old_settings.targets.when_not_proxying, not_proxying::direct);
  EXPECT_EQ(old_settings.proxies[0].host, "10.0.0.1");
  EXPECT_EQ(old_settings.skip.extra_skip_cidrs.size(), 1u);

  // Written out: version 2, the rule, no trace of the old keys; read back,
  // the same settings.
  auto new_file = serialize(old_settings);
  EXPECT_NE(new_file.find("version = 2\n"), std::string::npos);
  EXPECT_NE(new_file.find("[[rule]]\nname = \"Discord\"\n"), std::string::npos);
  EXPECT_EQ(new_file.find("processes"), std::string::npos);
  EXPECT_EQ(new_file.find("include_vesktop"), std::string::npos);
  auto again = parse(new_file, "new.toml");
  ASSERT_TRUE(again.ok()) << to_string(again.errors);
  EXPECT_TRUE(again.warnings.empty()) << to_string(again.warnings);
  EXPECT_EQ(*again.value, old_settings);
}

TEST(config_rules, a_version_1_file_without_a_list_gets_discord) {
  auto s = parse_ok("[targets]\nwhen_not_proxying = \"block\"\n");
  EXPECT_EQ(s.rules, std::vector<app_rule>{discord_rule()});
  auto vesktop = parse_ok("[targets]\ninclude_vesktop = true\n");
  ASSERT_EQ(vesktop.rules.size(), 1u);
  EXPECT_EQ(vesktop.rules[0].apps.size(), 6u);
}

TEST(config_rules, a_version_1_mistake_still_points_at_its_line) {
  auto errors
      = errors_of("[proxy]\nport = 1\n[targets]\nprocesses = \"Discord\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 4u);
  EXPECT_NE(errors[0].message.find("an array"), std::string::npos);
}

// -- matching
// -------------------------------------------------------------------

TEST(rule_match, wildcards) {
  EXPECT_TRUE(wildcard_match("Discord*", "Discord", false));
  EXPECT_TRUE(wildcard_match("Discord*", "DiscordCanary.exe", false));
  EXPECT_TRUE(wildcard_match("*.exe", "a.exe", false));
  EXPECT_FALSE(wildcard_match("*.exe", "a.exe.bak", false));
  EXPECT_TRUE(wildcard_match("D?sc*d*", "Discord", false));
  EXPECT_TRUE(wildcard_match("*a*b*c*", "xxaxxbxxcxx", false));
  EXPECT_FALSE(wildcard_match("*a*b*c*", "xxaxxcxxbxx", false));
  EXPECT_TRUE(wildcard_match("**", "", false));
  EXPECT_FALSE(wildcard_match("?", "", false));
  EXPECT_FALSE(wildcard_match("discord", "Discord", false));
  EXPECT_TRUE(wildcard_match("discord", "Discord", true));
}

TEST(rule_match, names_paths_and_folders_each_way) {
  app_rule r;
  r.apps = {"Discord.exe"};
  r.paths = {"/usr/bin/telegram-desktop"};
  r.folders = {"/opt/games/"};
  auto linux_way = name_case::exact;
  EXPECT_TRUE(matches_itself(r, named("Discord.exe"), linux_way));
  EXPECT_TRUE(matches_itself(r, named("Discord"), linux_way))
      << ".exe optional";
  EXPECT_FALSE(matches_itself(r, named("discord"), linux_way));
  process_names by_command{"electron", "Discord", ""};
  EXPECT_TRUE(matches_itself(r, by_command, linux_way)) << "the command name";
  EXPECT_TRUE(
      matches_itself(r, named("t", "/usr/bin/telegram-desktop"), linux_way));
  EXPECT_FALSE(
      matches_itself(r, named("t", "/usr/bin/telegram-desktop2"), linux_way));
  EXPECT_TRUE(matches_itself(r, named("g", "/opt/games/a/b/g"), linux_way));
  EXPECT_FALSE(matches_itself(r, named("g", "/opt/gamesx/g"), linux_way));
  EXPECT_FALSE(matches_itself(r, named("g", "/opt/games"), linux_way));

  app_rule w;
  w.apps = {"discord*.EXE"};
  w.paths = {"C:\\Tools\\x.exe"};
  w.folders = {"c:/program files/Games"};
  auto windows_way = name_case::windows;
  EXPECT_TRUE(matches_itself(w, named("DiscordPTB.exe"), windows_way));
  EXPECT_FALSE(matches_itself(w, named("DiscordPTB"), windows_way));
  EXPECT_TRUE(matches_itself(w, named("x", "c:/tools/X.EXE"), windows_way));
  EXPECT_TRUE(matches_itself(
      w, named("g", "C:\\Program Files\\games\\g\\g.exe"), windows_way));
  EXPECT_FALSE(matches_itself(w, named("g", "C:\\Program Files\\games2\\g.exe"),
                              windows_way));
  app_rule root;
  root.folders = {"/"};
  EXPECT_TRUE(matches_itself(root, named("x", "/usr/bin/x"), linux_way));
}

TEST(rule_match, the_first_rule_wins_and_children_come_through_ancestors) {
  app_rule block_helper;
  block_helper.apps = {"helper"};
  block_helper.action = rule_action::block;
  app_rule launcher;
  launcher.apps = {"launcher"};
  launcher.children = true;
  app_rule direct_all;
  direct_all.apps = {"*"};
  direct_all.action = rule_action::direct;
  std::vector<app_rule> rules{block_helper, launcher, direct_all};
  std::vector<process_names> up{named("sh"), named("launcher")};
  auto how = name_case::exact;
  EXPECT_EQ(first_matching_rule(rules, named("helper"), up, how), 0);
  EXPECT_EQ(first_matching_rule(rules, named("worker"), up, how), 1);
  EXPECT_EQ(first_matching_rule(rules, named("worker"), {}, how), 2);
  rules[1].children = false;
  EXPECT_EQ(first_matching_rule(rules, named("worker"), up, how), 2);
  EXPECT_EQ(first_matching_rule({}, named("worker"), up, how), -1);
}
