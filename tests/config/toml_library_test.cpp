// toml++ 3.3.0 reached __builtin_unreachable when its parser asked whether
// a non-ASCII character met between tokens was whitespace, and asserted
// (or assumed) that a table header holds a key. Through
// config/toml_library.hpp the text is an ordinary syntax error, whatever
// config/toml_guard.cpp foresaw. The sanitizer build (a debug build, with
// UBSan) is where the unmended library fails these.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "config/toml_library.hpp"

namespace {

// Evaluated by the compiler: with the library's own definition these do
// not compile (a constant expression cannot reach __builtin_unreachable).
static_assert(!toml::impl::is_non_ascii_horizontal_whitespace(U'\u00A1'));
static_assert(!toml::impl::is_non_ascii_horizontal_whitespace(U'\u0434'));
static_assert(!toml::impl::is_non_ascii_horizontal_whitespace(U'\u3001'));
static_assert(!toml::impl::is_non_ascii_horizontal_whitespace(U'\uFEFE'));
// The characters the table does list are still whitespace.
static_assert(toml::impl::is_non_ascii_horizontal_whitespace(U'\u00A0'));
static_assert(toml::impl::is_non_ascii_horizontal_whitespace(U'\u3000'));
static_assert(toml::impl::is_non_ascii_horizontal_whitespace(U'\u2003'));

// Whether the library reports `text` as broken (by either of its ways).
bool is_syntax_error(const std::string& text) {
#if TOML_EXCEPTIONS
  try {
    (void)toml::parse(text);
  } catch (const toml::parse_error&) {
    return true;
  }
  return false;
#else
  return !toml::parse(text);
#endif
}

TEST(toml_library, non_ascii_between_tokens_is_a_syntax_error) {
  // Straight to the library, past the guard: each of these asked the
  // table about a character it had no answer for (UBSan stops the
  // sanitizer build there).
  for (std::string text : {
           "a = 1 \xC2\xA1\n",         // '¡' after a value
           "\xD0\xB4 = 1\n",           // 'д' where a key starts
           "[a]\xE3\x80\x81\n",        // '、' after a table header
           "a = [1,\xEF\xBB\xBE 2]\n", // U+FEFE inside an array
           "a = { b = 1 \xD1\x84}\n",  // 'ф' in an inline table
       }) {
    EXPECT_TRUE(is_syntax_error(text)) << text;
  }
}

TEST(toml_library, a_table_header_without_a_key_start_is_a_syntax_error) {
  // parse_key() asserted (a debug build ended) or let clang assume (a
  // release build's undefined behaviour) that a key starts here.
  for (std::string text : {"[}a]\n", "[[}a]]\n", "[a.}]\n", "[=]\n"}) {
    EXPECT_TRUE(is_syntax_error(text)) << text;
  }
}

TEST(toml_library, non_ascii_after_an_escaped_line_end_is_text) {
  // The parser asks the same question when it trims the blanks after a
  // backslash at a line's end; the answer must let 'é' through as text.
  std::string text = "s = \"\"\"x \\\n  \xC3\xA9\"\"\"\n";
#if TOML_EXCEPTIONS
  auto doc = toml::parse(text);
#else
  auto result = toml::parse(text);
  ASSERT_TRUE(result) << result.error().description();
  auto& doc = result.table();
#endif
  EXPECT_EQ(doc["s"].value_or(std::string{}), "x \xC3\xA9");
}

// Every file that uses toml++ must see the same tables, so none includes
// the library around config/toml_library.hpp.
TEST(toml_library, no_file_includes_the_library_directly) {
  namespace fs = std::filesystem;
  const fs::path root{DROVER_SOURCE_DIR};
  int checked = 0;
  for (const char* top :
       {"actors", "app", "bench", "config", "messages", "net", "tests"}) {
    if (!fs::exists(root / top))
      continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      auto ext = entry.path().extension();
      if (ext != ".cpp" && ext != ".hpp" && ext != ".h")
        continue;
      if (entry.path().filename() == "toml_library.hpp")
        continue;
      std::ifstream in{entry.path()};
      std::string line;
      while (std::getline(in, line))
        EXPECT_NE(line.rfind("#include <toml++", 0), 0u)
            << entry.path() << ": include config/toml_library.hpp instead";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

} // namespace
