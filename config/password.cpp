#include "config/password.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "config/toml_guard.hpp"
#include "config/toml_library.hpp"

namespace drover::config {

namespace {

// The byte offset of a 1-based line and column (columns count UTF-8 code
// points, as toml++ does), or nothing past the text.
std::optional<size_t> offset_of(std::string_view text, uint32_t line,
                                uint32_t column) {
  size_t at = 0;
  for (uint32_t l = 1; l < line; ++l) {
    at = text.find('\n', at);
    if (at == std::string_view::npos)
      return std::nullopt;
    ++at;
  }
  for (uint32_t c = 1; c < column; ++c) {
    if (at >= text.size())
      return std::nullopt;
    ++at; // the code point's lead byte
    while (at < text.size()
           && (static_cast<unsigned char>(text[at]) & 0xc0) == 0x80)
      ++at;
  }
  return at;
}

// A proxy's `password` string in the text: where it is, its value, and
// which proxy it belongs to (its place and name).
struct password_at {
  size_t begin = 0;
  size_t end = 0;
  std::string value;
  size_t proxy = 0;
  std::string name;
};

// Every proxy's password: `[proxy]`'s, or each `[[proxy]]`'s.
std::vector<password_at> password_spans(std::string_view text) {
  auto parsed = toml::parse(text);
  std::vector<const toml::table*> proxies;
  if (auto* one = parsed["proxy"].as_table())
    proxies.push_back(one);
  else if (auto* many = parsed["proxy"].as_array())
    for (auto& n : *many)
      if (auto* t = n.as_table())
        proxies.push_back(t);
  std::vector<password_at> out;
  for (size_t i = 0; i < proxies.size(); ++i) {
    auto* node = proxies[i]->get("password");
    if (node == nullptr || !node->is_string())
      continue;
    auto src = node->source();
    auto begin = offset_of(text, src.begin.line, src.begin.column);
    auto end = offset_of(text, src.end.line, src.end.column);
    if (!begin || !end || *end <= *begin)
      continue;
    password_at at{*begin, *end, node->as_string()->get(), i, {}};
    if (auto* name = proxies[i]->get_as<std::string>("name"))
      at.name = name->get();
    out.push_back(std::move(at));
  }
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return a.begin < b.begin; });
  return out;
}

// `text` with each span replaced by what `with` gives for it (nothing
// given: unchanged).
template<class With>
std::string replace_spans(std::string_view text,
                          const std::vector<password_at>& spans, With with) {
  std::string out;
  size_t at = 0;
  for (auto& span : spans) {
    auto value = with(span);
    if (!value)
      continue;
    out.append(text.substr(at, span.begin - at));
    out += *value;
    at = span.end;
  }
  out.append(text.substr(at));
  return out;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Every line that sets a key named `password` (any table, any spacing),
// its value replaced: for a file too broken to find the value exactly. A
// multi-line value's further lines go too, up to its closing quotes.
std::string hide_by_lines(std::string_view text) {
  std::string out;
  size_t at = 0;
  std::string_view open_quotes; // in a multi-line password: its closing
  while (at <= text.size()) {
    auto end = text.find('\n', at);
    auto line = text.substr(at, end == std::string_view::npos ? end : end - at);
    if (!open_quotes.empty()) {
      // Hidden; the line that closes the value keeps what follows it.
      if (auto close = line.find(open_quotes);
          close != std::string_view::npos) {
        out.append(line.substr(close + open_quotes.size()));
        open_quotes = {};
      }
      if (end == std::string_view::npos)
        break;
      out += '\n';
      at = end + 1;
      continue;
    }
    auto key = line.find_first_not_of(" \t");
    auto eq = line.find('=');
    bool secret = false;
    if (key != std::string_view::npos && eq != std::string_view::npos
        && eq > key) {
      auto name = line.substr(key, eq - key);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
        name.remove_suffix(1);
      secret = name == "password" || name == "\"password\""
               || name == "'password'" || name == "proxy.password";
    }
    if (secret) {
      out.append(line.substr(0, eq + 1));
      out += " " + quoted(password_placeholder);
      auto value = line.substr(eq + 1);
      value.remove_prefix(
          std::min(value.find_first_not_of(" \t"), value.size()));
      for (std::string_view quotes : {"\"\"\"", "'''"})
        if (value.substr(0, 3) == quotes
            && value.find(quotes, 3) == std::string_view::npos)
          open_quotes = quotes;
    } else {
      out.append(line);
    }
    if (end == std::string_view::npos)
      break;
    out += '\n';
    at = end + 1;
  }
  return out;
}

} // namespace

std::string hide_password(std::string_view text) {
  if (find_unsafe_text(text))
    return hide_by_lines(text); // not for the TOML library's eyes
  try {
    return replace_spans(
        text, password_spans(text),
        [](const password_at& p) -> std::optional<std::string> {
          if (p.value.empty())
            return std::nullopt;
          return quoted(password_placeholder);
        });
  } catch (const toml::parse_error&) {
    return hide_by_lines(text);
  }
}

std::string keep_password(std::string_view incoming,
                          const std::vector<proxy_settings>& stored) {
  if (find_unsafe_text(incoming))
    return std::string{incoming}; // refused by validation later
  try {
    return replace_spans(
        incoming, password_spans(incoming),
        [&](const password_at& p) -> std::optional<std::string> {
          if (p.value != password_placeholder)
            return std::nullopt;
          // The proxy of the same name; without names, the same place.
          for (auto& s : stored)
            if (!p.name.empty() && s.name == p.name)
              return quoted(s.password);
          if (p.name.empty() && p.proxy < stored.size()
              && stored[p.proxy].name.empty())
            return quoted(stored[p.proxy].password);
          if (p.name.empty() && stored.size() == 1)
            return quoted(stored.front().password);
          return std::nullopt; // a new proxy: no password stored for it
        });
  } catch (const toml::parse_error&) {
    return std::string{incoming}; // refused by validation later
  }
}

} // namespace drover::config
