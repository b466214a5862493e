// Several upstreams: `[proxy]` (one) or `[[proxy]]` tables (each named),
// rules choosing one by `proxy = "NAME"`, every mistake located, and the
// file written back as it was read.

#include <string>

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "tests/config/parse_helpers.hpp"

using namespace drover::config;

using drover::config::testing::parse_ok;

namespace {

diagnostic only_error(const std::string& text) {
  auto r = parse(text, "config.toml");
  EXPECT_EQ(r.errors.size(), 1u) << to_string(r.errors);
  return r.errors.empty() ? diagnostic{} : r.errors.front();
}

const std::string two_proxies = R"(version = 2
[[proxy]]
name = "home"
host = "192.0.2.1"
port = 1080

[[proxy]]
name = "work"
host = "192.0.2.2"
port = 3128
type = "http"
auth = true
login = "me"
password = "pw"

[[rule]]
name = "Discord"
apps = ["Discord.exe"]
action = "proxy"

[[rule]]
name = "browser"
apps = ["firefox"]
proxy = "work"
fallback = "direct"
)";

} // namespace

TEST(config_proxies, one_proxy_section_is_the_only_proxy) {
  auto s = parse_ok("[proxy]\nhost = \"192.0.2.9\"\nport = 9050\n");
  ASSERT_EQ(s.proxies.size(), 1u);
  EXPECT_EQ(s.proxies[0].host, "192.0.2.9");
  EXPECT_EQ(s.proxies[0].name, "");
  EXPECT_EQ(proxy_label(s.proxies[0]), "192.0.2.9:9050");
  EXPECT_EQ(proxy_index(s, s.rules[0]), 0u);
  // Written back as [proxy], without a name it did not have.
  auto text = serialize(s);
  EXPECT_NE(text.find("\n[proxy]\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("\n[[proxy]]\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("name = \"\""), std::string::npos) << text;
}

TEST(config_proxies, several_proxies_each_with_its_rules) {
  auto s = parse_ok(two_proxies);
  ASSERT_EQ(s.proxies.size(), 2u);
  EXPECT_EQ(s.proxies[1].name, "work");
  EXPECT_EQ(s.proxies[1].type, proxy_type::http);
  EXPECT_EQ(s.proxies[1].login, "me");
  EXPECT_EQ(proxy_index(s, s.rules[0]), 0u); // no `proxy`: the first
  EXPECT_EQ(proxy_index(s, s.rules[1]), 1u);
  EXPECT_EQ(proxy_label(s.proxies[1]), "work");
  // The fallback that holds for each proxy's sockets.
  EXPECT_EQ(strictest_fallback(s, 0), not_proxying::block);
  EXPECT_EQ(strictest_fallback(s, 1), not_proxying::block); // [targets]
  s.targets.when_not_proxying = not_proxying::direct;
  EXPECT_EQ(strictest_fallback(s, 1), not_proxying::direct);
  EXPECT_EQ(credentials(s), (std::vector<std::string>{"", "", "me", "pw"}));
  // Round trip: [[proxy]] tables, names, the rule's proxy.
  auto text = serialize(s);
  EXPECT_NE(text.find("[[proxy]]\nname = \"home\""), std::string::npos) << text;
  EXPECT_NE(text.find("proxy = \"work\""), std::string::npos) << text;
  auto again = parse_ok(text);
  EXPECT_TRUE(again == s);
}

TEST(config_proxies, a_rule_naming_no_proxy_is_an_error_at_its_line) {
  auto text = two_proxies;
  text.replace(text.find("proxy = \"work\""), 14, "proxy = \"wrok\"");
  auto e = only_error(text);
  EXPECT_EQ(e.key, "rule[1].proxy");
  EXPECT_EQ(e.line, 24u);
  EXPECT_NE(e.message.find("\"wrok\", which no proxy is called; the "
                           "proxies are \"home\", \"work\""),
            std::string::npos)
      << e.message;
  // With one unnamed proxy, the message says how to name it.
  auto one = only_error("[proxy]\nport = 1\n[[rule]]\napps = [\"x\"]\nproxy = "
                        "\"home\"\n");
  EXPECT_NE(one.message.find("give the proxy that name"), std::string::npos)
      << one.message;
}

TEST(config_proxies, names_are_required_unique_and_plain) {
  auto unnamed = only_error("[[proxy]]\nport = 1\n[[proxy]]\nname = \"b\"\n");
  EXPECT_EQ(unnamed.key, "proxy[0].name");
  EXPECT_EQ(unnamed.line, 1u);
  auto twice = only_error(
      "[[proxy]]\nname = \"a\"\n[[proxy]]\nname = \"a\"\nport = 2\n");
  EXPECT_EQ(twice.key, "proxy[1].name");
  EXPECT_EQ(twice.line, 4u);
  auto odd = only_error("[proxy]\nname = \"a/b\"\n");
  EXPECT_EQ(odd.key, "proxy.name");
  EXPECT_NE(odd.message.find("letters, digits"), std::string::npos);
  // One [[proxy]] table needs no name.
  EXPECT_EQ(parse_ok("[[proxy]]\nport = 7\n").proxies.at(0).port, 7);
  // The credentials' checks name the table they are in.
  auto login = parse("[[proxy]]\nname = \"a\"\n[[proxy]]\nname = \"b\"\nauth "
                     "= true\nlogin = \"u\"\n",
                     "config.toml");
  ASSERT_EQ(login.errors.size(), 1u);
  EXPECT_EQ(login.errors[0].key, "proxy[1].password");
}

TEST(config_proxies, more_than_eight_or_not_tables_is_an_error) {
  std::string text;
  for (int i = 0; i < 9; ++i)
    text += "[[proxy]]\nname = \"p" + std::to_string(i) + "\"\n";
  EXPECT_NE(only_error(text).message.find("at most 8"), std::string::npos);
  EXPECT_EQ(only_error("proxy = []\n").key, "proxy");
  EXPECT_EQ(only_error("proxy = 5\n").key, "proxy");
}

TEST(config_proxies, unknown_keys_and_pointless_proxies_are_warned_about) {
  auto r = parse("[[proxy]]\nname = \"a\"\nhots = \"x\"\n[[rule]]\napps = "
                 "[\"x\"]\naction = \"direct\"\nproxy = \"a\"\n",
                 "config.toml");
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].key, "rule[0].proxy");
  EXPECT_EQ(r.warnings[1].key, "proxy[0].hots");
  EXPECT_NE(r.warnings[1].message.find("did you mean `proxy[0].host`?"),
            std::string::npos);
}
