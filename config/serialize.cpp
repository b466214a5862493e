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
  });
  return o;
}

} // namespace drover::config
