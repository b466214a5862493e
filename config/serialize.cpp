#include "config/parse.hpp"

#include <cstdio>

#include "config/fields.hpp"

namespace drover::config {

// Control characters (and DEL) as \u00XX: TOML allows none of them raw.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + '"';
}

namespace {

// Each `[[rule]]` with the keys that say something: `apps` and `action`
// always, the others when they differ from an empty rule's.
template<class Line>
void write_rules(const std::vector<app_rule>& rules, Line& line) {
  auto& schema = rule_schema();
  const app_rule blank = [] {
    app_rule r;
    r.apps.clear();
    return r;
  }();
  for (size_t i = 0; i < rules.size(); ++i) {
    line("");
    if (i == 0)
      line(schema.before);
    line("[[" + std::string{schema.name} + "]]");
    for (auto& f : schema.fields) {
      bool always = f.name == "apps" || f.name == "action";
      if (!always && f.same(rules[i], blank))
        continue;
      line(std::string{f.name} + " = " + f.write(rules[i])
           + (f.after.empty() ? "" : "  # " + std::string{f.after}));
    }
  }
}

// One proxy as `[proxy]` (its `name` only if it has one), several as
// `[[proxy]]` tables.
template<class Line>
void write_proxies(const std::vector<proxy_settings>& proxies, Line& line) {
  auto& schema = proxy_schema();
  line("");
  line(schema.before);
  for (auto& p : proxies) {
    if (&p != &proxies.front())
      line("");
    line(proxies.size() == 1 ? "[" + std::string{schema.name} + "]"
                             : "[[" + std::string{schema.name} + "]]");
    for (auto& f : schema.fields) {
      if (f.name == "name" && p.name.empty())
        continue;
      if (!f.before.empty())
        line(f.before);
      line(std::string{f.name} + " = " + f.write(p)
           + (f.after.empty() ? "" : "  # " + std::string{f.after}));
    }
  }
}

} // namespace

std::string serialize(const settings& s) {
  std::string o;
  auto line = [&](std::string_view text) {
    o += text;
    o += '\n';
  };
  line("# Drover configuration. The tray's Settings page writes this file;");
  line("# edits by hand are picked up while Drover runs. Reference: "
       "docs/config.md");
  line("version = " + std::to_string(s.version));
  // No rule at all must read back as none, not as the default rule; an
  // empty array of tables can only be written here, above every section.
  if (s.rules.empty())
    line("rule = []  # no rules: Drover captures no program");
  write_proxies(s.proxies, line);
  for_each_section([&](auto member, const auto& schema) {
    line("");
    if (!schema.before.empty())
      line(schema.before);
    line("[" + std::string{schema.name} + "]");
    for (auto& f : schema.fields) {
      if (!f.before.empty())
        line(f.before);
      line(std::string{f.name} + " = " + f.write(s.*member)
           + (f.after.empty() ? "" : "  # " + std::string{f.after}));
    }
    if (schema.name == targets_schema().name)
      write_rules(s.rules, line);
  });
  return o;
}

} // namespace drover::config
