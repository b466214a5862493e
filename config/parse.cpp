#include "config/parse.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <sstream>
#include <utility>

#include "config/fields.hpp"
#include "config/migrate.hpp"
#include "config/reader.hpp"
#include "config/toml_guard.hpp"

namespace drover::config {

namespace {

// Classic edit distance, for "did you mean" hints on misspelt keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest(std::string_view word,
                    const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3; // only suggest close matches
  for (auto c : candidates) {
    auto d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return std::string{best};
}

// -- reading a section by its table
// ---------------------------------------------

template<class S>
void read_section(reader& r, const toml::table& doc,
                  const section_schema<S>& schema, S& out) {
  auto* sec = r.section(doc, schema.name);
  for (auto& f : schema.fields)
    r.key(sec, schema.name, f.name,
          [&](const toml::node& n, const std::string& k) {
            f.read(r, n, k, out);
          });
  if (schema.check)
    schema.check(r, sec, out);
}

void warn_unknown_keys(reader& r, const toml::table& root) {
  auto schema = known_keys();
  std::vector<std::string_view> top = {"version"};
  for (auto& sec : schema)
    top.push_back(sec.first);
  for (auto&& [k, node] : root) {
    auto name = k.str();
    auto it = std::find_if(schema.begin(), schema.end(),
                           [&](auto& sec) { return sec.first == name; });
    if (it == schema.end()) {
      if (name == "version")
        continue;
      auto hint = closest(name, top);
      r.warn(std::string{name}, &k.source(),
             "unknown key `" + std::string{name} + "` is ignored"
                 + (hint.empty() ? "" : "; did you mean `" + hint + "`?"));
      continue;
    }
    auto* sec = node.as_table();
    if (sec == nullptr)
      continue; // already an error
    for (auto&& [sk, unused] : *sec) {
      auto key = sk.str();
      if (std::find(it->second.begin(), it->second.end(), key)
          != it->second.end())
        continue;
      auto dotted = std::string{name} + "." + std::string{key};
      auto hint = closest(key, it->second);
      r.warn(dotted, &sk.source(),
             "unknown key `" + dotted + "` is ignored"
                 + (hint.empty() ? ""
                                 : "; did you mean `" + std::string{name} + "."
                                       + hint + "`?"));
    }
  }
}

} // namespace

// -- migrations --------------------------------------------------------------

const std::vector<migration>& known_migrations() {
  static const std::vector<migration> steps;
  return steps;
}

bool migrate(toml::table& doc, int version, int target,
             const std::vector<migration>& steps) {
  while (version < target) {
    auto it = std::find_if(steps.begin(), steps.end(), [&](const migration& m) {
      return m.from == version;
    });
    if (it == steps.end())
      return false;
    it->apply(doc);
    ++version;
  }
  doc.insert_or_assign("version", version);
  return true;
}

// -- syntax errors near a credential ------------------------------------------

// What line `text` says at 1-based `number` ("" past the end).
std::string_view line_of(std::string_view text, uint32_t number) {
  for (uint32_t n = 1; n < number; ++n) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos)
      return {};
    text.remove_prefix(nl + 1);
  }
  return text.substr(0, text.find('\n'));
}

// What a line is, as far as finding the value it belongs to goes.
enum class line_kind { other, table, assignment, credential };

line_kind kind_of(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return line_kind::other;
  line.remove_prefix(first);
  if (line.front() == '[')
    return line_kind::table;
  auto eq = line.find('=');
  if (eq == std::string_view::npos)
    return line_kind::other;
  auto key = line.substr(0, eq);
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c))
        && std::string_view{"_-.\"' \t"}.find(c) == std::string_view::npos)
      return line_kind::other;
  // The last part of a dotted key, without quotes or blanks.
  if (auto dot = key.rfind('.'); dot != std::string_view::npos)
    key.remove_prefix(dot + 1);
  std::string bare;
  for (char c : key)
    if (c != '"' && c != '\'' && c != ' ' && c != '\t')
      bare += c;
  return bare == "login" || bare == "password" ? line_kind::credential
                                               : line_kind::assignment;
}

// Whether line `number` holds (part of) a login's or password's value: the
// line itself, or the closest line above it that assigns (a multi-line
// string spans several).
bool near_credential(std::string_view text, uint32_t number) {
  for (uint32_t n = number; n >= 1; --n) {
    switch (kind_of(line_of(text, n))) {
      case line_kind::credential:
        return true;
      case line_kind::table:
      case line_kind::assignment:
        return false;
      case line_kind::other:
        break;
    }
  }
  return false;
}

// -- parse -------------------------------------------------------------------

parse_result parse(std::string_view text, std::string_view file) {
  parse_result result;
  reader r{std::string{file}};
  toml::table doc;
  if (auto unsafe = find_unsafe_text(text)) {
    toml::source_region at;
    at.begin = {unsafe->line, unsafe->column};
    at.end = at.begin;
    r.error("", &at, unsafe->message);
    result.errors = std::move(r.errors);
    return result;
  }
  try {
    doc = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    // The parser's words quote what it saw: never a piece of a credential.
    if (near_credential(text, e.source().begin.line))
      r.error("", &e.source(),
              "the login or password here does not read as TOML "
              "(what the parser saw is not shown: it is a credential); put "
              "it in double quotes, writing \\\" for a quote and \\\\ for a "
              "backslash inside");
    else
      r.error("", &e.source(), std::string{e.description()});
    result.errors = std::move(r.errors);
    return result;
  }

  settings s;
  int version = 1; // a file without `version` is version 1
  if (auto* v = doc.get("version")) {
    auto* i = v->as_integer();
    if (i == nullptr) {
      r.type_error(*v, "version", "a whole number");
    } else if (i->get() < 1) {
      r.error("version", &v->source(),
              "`version` must be 1 or more, got " + std::to_string(i->get()));
    } else if (i->get() > current_version) {
      r.error("version", &v->source(),
              "this file has `version = " + std::to_string(i->get())
                  + "`, written by a newer Drover; this one understands up to "
                    "version "
                  + std::to_string(current_version));
    } else {
      version = static_cast<int>(i->get());
    }
  }
  if (r.errors.empty()
      && !migrate(doc, version, current_version, known_migrations()))
    r.error("version", nullptr,
            "no migration from config version " + std::to_string(version));

  for_each_section([&](auto member, const auto& schema) {
    read_section(r, doc, schema, s.*member);
  });
  warn_unknown_keys(r, doc);

  result.errors = std::move(r.errors);
  result.warnings = std::move(r.warnings);
  if (result.errors.empty())
    result.value = std::move(s);
  return result;
}

} // namespace drover::config
