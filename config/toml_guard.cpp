#include "config/toml_guard.hpp"

#include <cstdio>

namespace drover::config {

namespace {

// Walks the text a byte at a time, counting lines and characters the way
// toml++ does (a UTF-8 continuation byte is not a new column).
class cursor {
public:
  explicit cursor(std::string_view text) : text_{text} {}

  bool done() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool starts_with(std::string_view s) const {
    return text_.substr(pos_, s.size()) == s;
  }
  void next() {
    if (done())
      return;
    auto c = static_cast<unsigned char>(text_[pos_++]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((c & 0xc0) != 0x80) {
      ++column_;
    }
  }
  void skip(size_t n) {
    for (size_t i = 0; i < n; ++i)
      next();
  }
  uint32_t line() const { return line_; }
  uint32_t column() const { return column_; }

  // The character at the cursor, as "'д' (U+0434)" when it decodes.
  std::string describe() const {
    auto c = static_cast<unsigned char>(peek());
    size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    uint32_t code = length == 1   ? c
                    : length == 2 ? c & 0x1fu
                    : length == 3 ? c & 0x0fu
                                  : c & 0x07u;
    bool valid = length > 1 && pos_ + length <= text_.size();
    for (size_t i = 1; valid && i < length; ++i) {
      auto b = static_cast<unsigned char>(text_[pos_ + i]);
      valid = (b & 0xc0) == 0x80;
      code = (code << 6) | (b & 0x3fu);
    }
    char hex[16];
    if (!valid) {
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return std::string{"a byte that is not UTF-8 ("} + hex + ")";
    }
    std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(code));
    return "'" + std::string{text_.substr(pos_, length)} + "' (" + hex + ")";
  }

private:
  std::string_view text_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  uint32_t column_ = 1;
};

bool non_ascii(char c) {
  return (static_cast<unsigned char>(c) & 0x80) != 0;
}

unsafe_text at(const cursor& c, std::string message) {
  return {c.line(), c.column(), std::move(message)};
}

// A single-line string from after its opening quote to after its closing
// one (or the line's end: the parser reports that).
void skip_line_string(cursor& c, char quote) {
  while (!c.done() && c.peek() != '\n') {
    char ch = c.peek();
    c.next();
    if (ch == quote)
      return;
    if (ch == '\\' && quote == '"' && c.peek() != '\n')
      c.next(); // an escaped character, a quote among them
  }
}

// A multi-line string from after its opening quotes to after its closing
// ones. In a basic one, a backslash at a line's end trims the whitespace
// that follows, and the library asks of the first other character whether
// it is whitespace: it must be ASCII.
std::optional<unsafe_text> skip_multi_line_string(cursor& c, char quote) {
  const std::string closing(3, quote);
  while (!c.done()) {
    if (c.starts_with(closing)) {
      c.skip(3);
      for (int extra = 0; extra < 2 && c.peek() == quote; ++extra)
        c.next(); // """"" ends a string that ends in quotes
      return std::nullopt;
    }
    char ch = c.peek();
    c.next();
    if (ch != '\\' || quote != '"')
      continue;
    // An escape: `\` then a character, or `\`, blanks, a line break.
    size_t blanks = 0;
    while (c.peek(blanks) == ' ' || c.peek(blanks) == '\t')
      ++blanks;
    bool line_end = c.peek(blanks) == '\n'
                    || (c.peek(blanks) == '\r' && c.peek(blanks + 1) == '\n');
    if (!line_end) {
      c.next();
      continue;
    }
    while (c.peek() == ' ' || c.peek() == '\t' || c.peek() == '\n'
           || c.peek() == '\r')
      c.next();
    if (non_ascii(c.peek()))
      return at(c, "after a backslash at a line's end, a multi-line string "
                   "must go on with an ASCII character, not "
                       + c.describe()
                       + " (the TOML library Drover uses mishandles it): "
                         "join the lines, or write the character as \\u "
                         "and its four hex digits");
  }
  return std::nullopt;
}

} // namespace

std::optional<unsafe_text> find_unsafe_text(std::string_view text) {
  cursor c{text};
  while (!c.done()) {
    char ch = c.peek();
    if (ch == '#') {
      while (!c.done() && c.peek() != '\n')
        c.next();
    } else if (ch == '"' || ch == '\'') {
      if (c.starts_with(std::string(3, ch))) {
        c.skip(3);
        if (auto bad = skip_multi_line_string(c, ch))
          return bad;
      } else {
        c.next();
        skip_line_string(c, ch);
      }
    } else if (non_ascii(ch)) {
      return at(c, c.describe()
                       + " outside quotes: only quoted text and comments "
                         "(after #) may hold characters that are not ASCII. "
                         "Was the keyboard on another layout?");
    } else {
      c.next();
    }
  }
  return std::nullopt;
}

} // namespace drover::config
