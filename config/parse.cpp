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

// The node that set `key` in `t`, or the table itself.
const toml::source_region* where_in(const toml::table* t,
                                    std::string_view key) {
  auto* n = t->get(key);
  return n != nullptr ? &n->source() : &t->source();
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
    schema.check(r, sec, std::string{schema.name}, out);
}

// `[proxy]` (one proxy) or `[[proxy]]` tables (several, each named).
// Absent: the default proxy.
void read_proxies(reader& r, const toml::table& doc,
                  std::vector<proxy_settings>& out) {
  auto& schema = proxy_schema();
  auto* n = doc.get(schema.name);
  if (n == nullptr)
    return;
  auto read_one = [&](const toml::table& t, const std::string& prefix,
                      proxy_settings& p) {
    for (auto& f : schema.fields)
      r.key(&t, prefix, f.name, [&](const toml::node& v, const std::string& k) {
        f.read(r, v, k, p);
      });
    schema.check(r, &t, prefix, p);
  };
  if (auto* one = n->as_table()) {
    proxy_settings p;
    read_one(*one, std::string{schema.name}, p);
    out = {std::move(p)};
    return;
  }
  auto* tables = n->as_array();
  if (tables == nullptr || tables->empty() || !tables->is_array_of_tables()) {
    r.error("proxy", &n->source(),
            "`proxy` must be a section ([proxy]), or [[proxy]] tables (one "
            "for each proxy, each with a `name`), got "
                + describe(*n, false));
    return;
  }
  std::vector<proxy_settings> proxies;
  for (size_t i = 0; i < tables->size(); ++i) {
    auto* t = tables->get(i)->as_table();
    auto prefix = "proxy[" + std::to_string(i) + "]";
    proxy_settings p;
    read_one(*t, prefix, p);
    if (p.name.empty() && tables->size() > 1 && !t->contains("name"))
      r.error(prefix + ".name", &t->source(),
              "`" + prefix
                  + "` needs a `name` (such as \"home\"): with several "
                    "proxies, rules and `drover check --proxy` choose one by "
                    "its name");
    for (auto& other : proxies)
      if (!p.name.empty() && other.name == p.name)
        r.error(prefix + ".name", where_in(t, "name"),
                "two proxies are named " + quote(p.name)
                    + "; each needs a name of its own");
    proxies.push_back(std::move(p));
  }
  if (proxies.size() > max_proxies)
    r.error("proxy", &n->source(),
            "there are " + std::to_string(proxies.size())
                + " proxies; Drover uses at most "
                + std::to_string(max_proxies));
  out = std::move(proxies);
}

// A rule's `proxy` names one of the proxies.
void check_rule_proxies(reader& r, const toml::table& doc, const settings& s) {
  auto* tables = doc.get_as<toml::array>(rule_schema().name);
  for (size_t i = 0; i < s.rules.size(); ++i) {
    auto& rule = s.rules[i];
    if (rule.proxy.empty())
      continue;
    const toml::table* t = tables != nullptr && i < tables->size()
                               ? tables->get(i)->as_table()
                               : nullptr;
    auto key = "rule[" + std::to_string(i) + "].proxy";
    auto* at = t != nullptr ? where_in(t, "proxy") : nullptr;
    bool known = std::any_of(s.proxies.begin(), s.proxies.end(),
                             [&](auto& p) { return p.name == rule.proxy; });
    if (!known) {
      std::string names;
      for (auto& p : s.proxies)
        if (!p.name.empty())
          names += (names.empty() ? "" : ", ") + quote(p.name);
      r.error(key, at,
              "`" + key + "` is " + quote(rule.proxy)
                  + ", which no proxy is called"
                  + (names.empty() ? std::string{"; give the proxy that "
                                                 "name (`name` in [proxy])"}
                                   : "; the proxies are " + names));
    } else if (rule.action != rule_action::proxy) {
      r.warn(key, at,
             "`" + key
                 + "` is for rules whose action is \"proxy\"; this rule's "
                   "programs are never proxied, so it does nothing");
    }
  }
}

// The `[[rule]]` tables, in order. Absent: the default rule.
void read_rules(reader& r, const toml::table& doc, std::vector<app_rule>& out) {
  auto* n = doc.get(rule_schema().name);
  if (n == nullptr)
    return;
  auto* tables = n->as_array();
  if (tables == nullptr
      || (!tables->empty() && !tables->is_array_of_tables())) {
    r.error("rule", &n->source(),
            "`rule` must be rules, each a [[rule]] table with `apps`, "
            "`paths` or `folders` and an `action`, got "
                + describe(*n, false));
    return;
  }
  std::vector<app_rule> rules;
  size_t wildcards = 0;
  for (size_t i = 0; i < tables->size(); ++i) {
    auto* t = tables->get(i)->as_table();
    auto prefix = "rule[" + std::to_string(i) + "]";
    app_rule rule;
    auto errors_before = r.errors.size();
    for (auto& f : rule_schema().fields)
      r.key(t, prefix, f.name, [&](const toml::node& v, const std::string& k) {
        f.read(r, v, k, rule);
      });
    // (A list with a mistake has its own error already.)
    if (rule.apps.empty() && rule.paths.empty() && rule.folders.empty()
        && r.errors.size() == errors_before)
      r.error(prefix, &t->source(),
              "`" + prefix
                  + "` matches no program: give it `apps` (file names such "
                    "as \"Discord.exe\"), `paths` or `folders`");
    if (rule.action != rule_action::proxy
        && rule.fallback != rule_fallback::inherit)
      r.warn(prefix + ".fallback", &t->source(),
             "`" + prefix
                 + ".fallback` is for rules whose action is \"proxy\"; this "
                   "rule's programs are never proxied, so it does nothing");
    for (auto& app : rule.apps)
      wildcards += app.find_first_of("*?") != std::string::npos ? 1u : 0u;
    for (auto& other : rules)
      if (!rule.name.empty() && other.name == rule.name)
        r.warn(prefix + ".name", &t->source(),
               "two rules are named " + quote(rule.name)
                   + "; the Flows view and the Timeline cannot tell them "
                     "apart");
    rules.push_back(std::move(rule));
  }
  if (rules.size() > max_rules)
    r.error("rule", &n->source(),
            "there are " + std::to_string(rules.size())
                + " rules; Drover keeps at most " + std::to_string(max_rules)
                + " (put several `apps` in one rule)");
  if (wildcards > max_wildcard_apps)
    r.error("rule", &n->source(),
            "the rules have " + std::to_string(wildcards)
                + " `apps` patterns with * or ?; Drover compares at most "
                + std::to_string(max_wildcard_apps)
                + " (list exact names, or use `folders`)");
  if (rules.empty())
    r.warn("rule", &n->source(),
           "there are no rules: Drover will not capture any application");
  out = std::move(rules);
}

// Unknown keys inside one table: warned about, with the closest known one.
void warn_unknown_in(reader& r, const toml::table& table,
                     const std::string& prefix,
                     const std::vector<std::string_view>& known) {
  for (auto&& [sk, unused] : table) {
    auto key = sk.str();
    if (std::find(known.begin(), known.end(), key) != known.end())
      continue;
    auto dotted = prefix + "." + std::string{key};
    auto hint = closest(key, known);
    r.warn(dotted, &sk.source(),
           "unknown key `" + dotted + "` is ignored"
               + (hint.empty()
                      ? ""
                      : "; did you mean `" + prefix + "." + hint + "`?"));
  }
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
    if (auto* tables = node.as_array()) {
      for (size_t i = 0; i < tables->size(); ++i)
        if (auto* t = tables->get(i)->as_table())
          warn_unknown_in(r, *t,
                          std::string{name} + "[" + std::to_string(i) + "]",
                          it->second);
      continue;
    }
    if (auto* sec = node.as_table())
      warn_unknown_in(r, *sec, std::string{name}, it->second);
  }
}

} // namespace

// -- migrations --------------------------------------------------------------

namespace {

// Version 1 had one list of programs (`[targets] processes`, plus
// `include_vesktop`); version 2 has rules. The list becomes the first
// rule, named "Discord", which sends them through the proxy. Nodes are
// moved, not copied, so an error in them still points at the line the
// user wrote.
void targets_to_rules(toml::table& doc) {
  // Rules already (a file written for version 2 without its `version`
  // line): nothing to bring over.
  if (doc.contains("rule"))
    return;
  toml::table rule;
  rule.insert("name", "Discord");
  bool vesktop = false;
  bool have_list = false;
  if (auto* targets = doc.get_as<toml::table>("targets")) {
    if (auto* v = targets->get_as<bool>("include_vesktop")) {
      vesktop = v->get();
      targets->erase("include_vesktop");
    }
    if (auto it = targets->find("processes"); it != targets->end()) {
      have_list = true;
      it->second.visit(
          [&](auto& value) { rule.insert("apps", std::move(value)); });
      targets->erase(it);
    }
  }
  if (!have_list) {
    toml::array apps;
    for (auto& name : discord_rule().apps)
      apps.push_back(name);
    rule.insert("apps", std::move(apps));
  }
  auto* apps = rule.get_as<toml::array>("apps");
  if (vesktop && apps != nullptr)
    for (std::string name : {"Vesktop.exe", "vesktop"}) {
      bool listed = false;
      for (auto& n : *apps)
        listed = listed || n.value<std::string>() == name;
      if (!listed)
        apps->push_back(name);
    }
  rule.insert("action", "proxy");
  toml::array rules;
  if (apps == nullptr || !apps->empty())
    rules.push_back(std::move(rule));
  doc.insert_or_assign("rule", std::move(rules));
}

} // namespace

const std::vector<migration>& known_migrations() {
  static const std::vector<migration> steps = {{1, targets_to_rules}};
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
  result.file_version = version;
  if (r.errors.empty()
      && !migrate(doc, version, current_version, known_migrations()))
    r.error("version", nullptr,
            "no migration from config version " + std::to_string(version));

  read_proxies(r, doc, s.proxies);
  for_each_section([&](auto member, const auto& schema) {
    read_section(r, doc, schema, s.*member);
  });
  read_rules(r, doc, s.rules);
  check_rule_proxies(r, doc, s);
  warn_unknown_keys(r, doc);

  result.errors = std::move(r.errors);
  result.warnings = std::move(r.warnings);
  result.program_paths = std::move(r.program_paths);
  if (result.errors.empty())
    result.value = std::move(s);
  return result;
}

} // namespace drover::config
