#include "messages/lifetime_totals.hpp"

#include <cctype>

namespace drover {

void lifetime_counter::observe(uint64_t in, uint64_t out) {
  auto add = [&](uint64_t now, uint64_t& seen, uint64_t& total) {
    uint64_t delta = now >= seen ? now - seen : now;
    seen = now;
    if (delta == 0)
      return;
    // Saturating: a total never wraps round to a small number.
    total = total > UINT64_MAX - delta ? UINT64_MAX : total + delta;
    changed_ = true;
  };
  add(in, seen_in_, totals_.bytes_in);
  add(out, seen_out_, totals_.bytes_out);
}

std::string to_json(const lifetime_totals& t) {
  std::string since;
  for (char c : t.since)
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-')
      since += c; // a date: nothing there needs escaping
  return "{\"bytes_in\":" + std::to_string(t.bytes_in) + ",\"bytes_out\":"
         + std::to_string(t.bytes_out) + ",\"since\":\"" + since + "\"}\n";
}

namespace {

// A small reader for exactly the object to_json() writes, in any order,
// with any whitespace between tokens.
class reader {
public:
  explicit reader(std::string_view text) : text_(text) {}

  void space() {
    while (at_ < text_.size()
           && std::isspace(static_cast<unsigned char>(text_[at_])))
      ++at_;
  }
  bool take(char c) {
    space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool string(std::string& out) {
    if (!take('"'))
      return false;
    out.clear();
    while (at_ < text_.size() && text_[at_] != '"') {
      if (text_[at_] == '\\' || out.size() > 64)
        return false; // never written by Drover
      out += text_[at_++];
    }
    return take('"');
  }
  bool number(uint64_t& out) {
    space();
    size_t start = at_;
    out = 0;
    while (at_ < text_.size()
           && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
      auto digit = static_cast<uint64_t>(text_[at_] - '0');
      if (out > (UINT64_MAX - digit) / 10)
        return false;
      out = out * 10 + digit;
      ++at_;
    }
    return at_ > start;
  }
  bool done() {
    space();
    return at_ == text_.size();
  }
  size_t where() const { return at_; }

private:
  std::string_view text_;
  size_t at_ = 0;
};

} // namespace

std::optional<lifetime_totals> lifetime_from_json(std::string_view text,
                                                  std::string& error) {
  reader r{text};
  lifetime_totals t;
  bool in = false, out = false;
  auto fail = [&](const std::string& what) {
    error = what + " (at byte " + std::to_string(r.where()) + ")";
    return std::nullopt;
  };
  if (!r.take('{'))
    return fail("not a JSON object");
  if (!r.take('}')) {
    do {
      std::string key;
      if (!r.string(key) || !r.take(':'))
        return fail("a field's name is not readable");
      if (key == "bytes_in" || key == "bytes_out") {
        uint64_t v = 0;
        if (!r.number(v))
          return fail(key + " is not a whole number up to 2^64");
        (key == "bytes_in" ? t.bytes_in : t.bytes_out) = v;
        (key == "bytes_in" ? in : out) = true;
      } else if (key == "since") {
        if (!r.string(t.since))
          return fail("since is not a date");
      } else {
        return fail("unknown field \"" + key + "\"");
      }
    } while (r.take(','));
    if (!r.take('}'))
      return fail("the object does not end");
  }
  if (!r.done())
    return fail("text after the object");
  if (!in || !out)
    return fail(std::string{"bytes_"} + (in ? "out" : "in") + " is missing");
  return t;
}

} // namespace drover
