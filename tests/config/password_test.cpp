// The proxy password never reaches a control-socket client: `config get`
// shows a placeholder, and the placeholder coming back keeps the stored
// password.

#include <string>

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "config/password.hpp"

using namespace drover::config;

namespace {

std::string password_of(const std::string& text) {
  auto parsed = parse(text, "test.toml");
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? parsed.value->proxies[0].password : std::string{};
}

const std::string with_password
    = "# my proxy\n[proxy]\nhost = \"10.0.0.1\"\nauth = true\nlogin = "
      "\"alice\"\npassword = \"s3cr\\\"et\\\\ü\" # keep this\nport = 1080\n";

// One stored proxy with `password`.
std::vector<proxy_settings> stored(const std::string& password,
                                   const std::string& name = {}) {
  proxy_settings p;
  p.name = name;
  p.password = password;
  return {p};
}

} // namespace

TEST(password, config_get_shows_a_placeholder_and_keeps_the_rest) {
  auto shown = hide_password(with_password);
  EXPECT_EQ(shown.find("s3cr"), std::string::npos) << shown;
  EXPECT_EQ(password_of(shown), std::string{password_placeholder});
  EXPECT_NE(shown.find("# my proxy"), std::string::npos);
  EXPECT_NE(shown.find("# keep this"), std::string::npos);
  EXPECT_NE(shown.find("login = \"alice\""), std::string::npos);
}

TEST(password, a_multi_line_password_is_hidden_whole) {
  std::string text = "[proxy]\nauth = true\nlogin = \"a\"\npassword = '''line "
                     "one\nline two'''\n";
  auto shown = hide_password(text);
  EXPECT_EQ(shown.find("line"), std::string::npos) << shown;
  EXPECT_EQ(password_of(shown), std::string{password_placeholder});
}

TEST(password, a_broken_file_never_shows_its_password_either) {
  std::string text = "[proxy]\npassword = \"unterminated secret\nport = x\n";
  auto shown = hide_password(text);
  EXPECT_EQ(shown.find("secret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("port = x"), std::string::npos);
  std::string dotted = "proxy.password = \"s3cret\"\n[[broken\n";
  EXPECT_EQ(hide_password(dotted).find("s3cret"), std::string::npos);
}

// A file the TOML library must not read (a Cyrillic word outside quotes)
// or cannot (broken), with a multi-line password: every line of it goes.
TEST(password, a_broken_multi_line_password_is_hidden_whole) {
  for (std::string broken : {"ключ = 1\n", "[[broken\n"}) {
    std::string text = "[proxy]\npassword = \"\"\"first half\nsecond "
                       "half\"\"\" # kept\nport = 1080\n"
                       + broken;
    auto shown = hide_password(text);
    EXPECT_EQ(shown.find("half"), std::string::npos) << shown;
    EXPECT_NE(shown.find(" # kept\nport = 1080\n"), std::string::npos) << shown;
  }
}

TEST(password, no_password_no_change) {
  std::string text = "[proxy]\nhost = \"h\"\npassword = \"\"\n";
  EXPECT_EQ(hide_password(text), text);
  EXPECT_EQ(hide_password("[ui]\ntheme = \"dark\"\n"),
            "[ui]\ntheme = \"dark\"\n");
}

TEST(password, the_placeholder_coming_back_keeps_the_stored_password) {
  auto shown = hide_password(with_password);
  auto edited = shown;
  edited.replace(edited.find("port = 1080"), 11, "port = 1081");
  auto kept = keep_password(edited, stored("s3cr\"et\\ü"));
  EXPECT_EQ(password_of(kept), "s3cr\"et\\ü");
  EXPECT_NE(kept.find("port = 1081"), std::string::npos);
  // A new password typed in goes through as it is.
  std::string changed = "[proxy]\nauth = true\nlogin = \"a\"\npassword = "
                        "\"new one\"\n";
  EXPECT_EQ(keep_password(changed, stored("old")), changed);
  // Control characters in a stored password are written as escapes.
  auto odd = keep_password(shown, stored("a\tb\x01"));
  EXPECT_EQ(password_of(odd), std::string{"a\tb\x01"});
}

// Several proxies: every password is hidden, and each placeholder coming
// back gets the password of the proxy with its name, wherever it moved.
TEST(password, every_proxys_password_is_hidden_and_kept_by_name) {
  std::string text = "[[proxy]]\nname = \"home\"\nauth = true\nlogin = "
                     "\"a\"\npassword = \"first secret\"\n\n[[proxy]]\nname = "
                     "\"work\"\nhost = \"10.0.0.2\"\nauth = true\nlogin = "
                     "\"b\"\npassword = \"second secret\"\n";
  auto shown = hide_password(text);
  EXPECT_EQ(shown.find("secret"), std::string::npos) << shown;
  auto parsed = parse(shown, "test.toml");
  ASSERT_TRUE(parsed.ok()) << shown;
  for (auto& p : parsed.value->proxies)
    EXPECT_EQ(p.password, password_placeholder);
  // The tray sends them back in the other order.
  auto work = shown.find("[[proxy]]", 1);
  auto swapped = shown.substr(work) + "\n" + shown.substr(0, work);
  std::vector<proxy_settings> in_force(2);
  in_force[0].name = "home";
  in_force[0].password = "first secret";
  in_force[1].name = "work";
  in_force[1].password = "second secret";
  auto kept = parse(keep_password(swapped, in_force), "test.toml");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept.value->proxies.size(), 2u);
  EXPECT_EQ(kept.value->proxies[0].name, "work");
  EXPECT_EQ(kept.value->proxies[0].password, "second secret");
  EXPECT_EQ(kept.value->proxies[1].password, "first secret");
  // A proxy the engine has no password for keeps the placeholder (a login
  // then fails; nothing of another proxy's is sent).
  std::vector<proxy_settings> other(1);
  other[0].name = "elsewhere";
  other[0].password = "not this one";
  EXPECT_EQ(keep_password(shown, other).find("not this one"),
            std::string::npos);
}
