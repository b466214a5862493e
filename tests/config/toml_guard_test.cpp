// The text the TOML library is never shown (toml++ 3.3.0 reaches undefined
// behaviour on it), and what the user is told instead.
#include <string>

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "config/toml_guard.hpp"

using namespace drover::config;

TEST(toml_guard, a_word_typed_on_another_layout_is_named_with_its_place) {
  // "[зкщчн]": [proxy] typed with the Russian layout on.
  auto bad = find_unsafe_text("# ok\n[зкщчн]\nport = 1080\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->line, 2u);
  EXPECT_EQ(bad->column, 2u);
  EXPECT_NE(bad->message.find("'з' (U+0437)"), std::string::npos)
      << bad->message;
  EXPECT_NE(bad->message.find("another layout"), std::string::npos);
  // Columns count characters, not bytes.
  bad = find_unsafe_text("a = \"ä\" ö\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->column, 9u);
}

TEST(toml_guard, quoted_text_and_comments_may_hold_anything) {
  for (std::string text : {
           "# комментарий ü ☃\n",
           "name = \"Дискорд \\\" ü\" # ё\n",
           "name = 'Дискорд'\n",
           "\"ключ\" = 1\n['таблица']\n",
           "s = \"\"\"\nмного\nстрок \"\" \"\"\"\"\n",
           "s = '''\nмного\n'''\n",
           "s = \"\"\"a \\\\\n  b ä\"\"\"\n",
           "s = \"\"\"a \\\"\"\" ü\"\"\"\n",
       })
    EXPECT_FALSE(find_unsafe_text(text)) << text;
}

TEST(toml_guard, the_cases_toml_plus_plus_gets_wrong_are_refused) {
  // marzer/tomlplusplus#295: a combining mark at the start.
  EXPECT_TRUE(find_unsafe_text("\xcc\xaa"));
  // #190: a line-ending backslash in a multi-line string, then U+00A7.
  auto bad = find_unsafe_text("s = \"\"\"\\\n  \xc2\xa7\"\"\"\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->line, 2u);
  EXPECT_EQ(bad->column, 3u);
  EXPECT_NE(bad->message.find("backslash"), std::string::npos);
  // A byte that is not UTF-8 at all.
  bad = find_unsafe_text("port = 10\xff\n");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->message.find("0xFF"), std::string::npos) << bad->message;
  // A single-line string ends at the line's end: what follows is outside.
  EXPECT_TRUE(find_unsafe_text("a = \"open\nй = 1\n"));
}

TEST(toml_guard, parse_reports_it_as_a_config_error) {
  auto r = parse("[proxy]\nhost = \"10.0.0.1\"\nпорт = 1080\n", "config.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 3u);
  EXPECT_EQ(r.errors[0].column, 1u);
  EXPECT_NE(r.errors[0].to_string().find("config.toml:3:1"), std::string::npos)
      << r.errors[0].to_string();
}
