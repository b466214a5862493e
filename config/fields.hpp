#pragma once

// The config schema as data: one table per section, one entry per key,
// saying how the key is read (and checked), written and compared. parse()
// reads with it, serialize() writes with it, the settings' equality
// compares with it, the unknown-key warnings and the docs' key-table test
// list its keys. A new key is one entry here (and its member in
// settings.hpp, its row in docs/config.md).

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/settings.hpp"
#include "config/toml_library.hpp"

namespace drover::config {

class reader;

template<class Section>
struct field {
  using read_fn = std::function<void(reader&, const toml::node&,
                                     const std::string& key, Section&)>;
  std::string_view name;
  read_fn read;                                     // validates, then sets
  std::function<std::string(const Section&)> write; // the value as TOML
  std::function<bool(const Section&, const Section&)> same;
  std::string_view after;  // a comment after the value in a written file
  std::string_view before; // comment lines above the key ("# ..." each)
};

template<class Section>
struct section_schema {
  std::string_view name;
  std::string_view before; // comment lines above the [section] heading
  std::vector<field<Section>> fields;
  /// Checks across keys, once every key is read (may be empty); `prefix`
  /// names the table in messages ("proxy", "proxy[1]").
  std::function<void(reader&, const toml::table* sec, const std::string& prefix,
                     Section&)>
      check;

  bool same(const Section& a, const Section& b) const {
    for (auto& f : fields)
      if (!f.same(a, b))
        return false;
    return true;
  }
};

/// The keys of one proxy: `[proxy]`, or each of several `[[proxy]]` tables
/// (read and written by parse() and serialize(), before the sections).
const section_schema<proxy_settings>& proxy_schema();
const section_schema<target_settings>& targets_schema();
/// The keys of one `[[rule]]` (the rules are an array of tables, read and
/// written by parse() and serialize() around the sections).
const section_schema<app_rule>& rule_schema();
const section_schema<skip_settings>& skip_schema();
const section_schema<ui_settings>& ui_schema();
const section_schema<update_settings>& update_schema();
const section_schema<engine_settings>& engine_schema();
const section_schema<check_settings>& check_schema();
const section_schema<metrics_settings>& metrics_schema();

/// Calls `f(member, schema)` for each section, in the file's order.
template<class F>
void for_each_section(F&& f) {
  f(&settings::targets, targets_schema());
  f(&settings::skip, skip_schema());
  f(&settings::ui, ui_schema());
  f(&settings::update, update_schema());
  f(&settings::engine, engine_schema());
  f(&settings::check, check_schema());
  f(&settings::metrics, metrics_schema());
}

/// Every section's name and its keys, in the file's order ("proxy" first,
/// "rule" for the `[[rule]]` tables).
std::vector<std::pair<std::string_view, std::vector<std::string_view>>>
known_keys();

} // namespace drover::config
