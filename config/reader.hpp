#pragma once

// Typed access to a config file's values with every problem collected and
// located (file, line, column, dotted key): what the field tables
// (fields.hpp) read each key with. Messages never echo a credential.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostic.hpp"
#include "config/durations.hpp"
#include "config/settings.hpp"
#include "config/toml_library.hpp"

namespace drover::config {

/// Whether a dotted key holds a credential (its value is never shown).
bool is_secret_key(std::string_view key);

/// `s` in double quotes, for messages.
std::string quote(std::string_view s);

/// What a node holds, for "got ..." in messages; `secret`: its type only.
std::string describe(const toml::node& n, bool secret);

class reader {
public:
  explicit reader(std::string file) : file_(std::move(file)) {}

  std::vector<diagnostic> errors;
  std::vector<diagnostic> warnings;

  void error(std::string key, const toml::source_region* at,
             std::string message) {
    errors.push_back(make(diagnostic::severity::error, std::move(key), at,
                          std::move(message)));
  }

  void warn(std::string key, const toml::source_region* at,
            std::string message) {
    warnings.push_back(make(diagnostic::severity::warning, std::move(key), at,
                            std::move(message)));
  }

  /// A rule's `paths`/`folders` entries, where each is (the message: the
  /// path), for a check of the files themselves (parse_result).
  std::vector<diagnostic> program_paths;
  void saw_program_path(std::string key, const toml::source_region* at,
                        std::string path) {
    program_paths.push_back(make(diagnostic::severity::warning, std::move(key),
                                 at, std::move(path)));
  }

  // Returns the section table, or nullptr when absent or not a table.
  const toml::table* section(const toml::table& root, std::string_view name) {
    auto* n = root.get(name);
    if (n == nullptr)
      return nullptr;
    if (auto* t = n->as_table())
      return t;
    error(std::string{name}, &n->source(),
          "`" + std::string{name} + "` must be a section ([" + std::string{name}
              + "]), got " + describe(*n, false));
    return nullptr;
  }

  // Calls `read(node, dotted_key)` when the key is present.
  template<class F>
  void key(const toml::table* sec, std::string_view section,
           std::string_view name, F&& read) {
    if (sec == nullptr)
      return;
    if (auto* n = sec->get(name))
      read(*n, std::string{section} + "." + std::string{name});
  }

  void boolean(const toml::node& n, const std::string& k, bool& out) {
    if (auto* b = n.as_boolean())
      out = b->get();
    else
      type_error(n, k, "true or false");
  }

  void string(const toml::node& n, const std::string& k, std::string& out) {
    if (auto* s = n.as_string())
      out = s->get();
    else
      type_error(n, k, "a string");
  }

  template<class T>
  void integer(const toml::node& n, const std::string& k, T& out, int64_t min,
               int64_t max) {
    auto* i = n.as_integer();
    if (i == nullptr) {
      type_error(n, k, "a whole number");
      return;
    }
    auto v = i->get();
    if (v < min || v > max) {
      error(k, &n.source(),
            "`" + k + "` must be " + std::to_string(min) + ".."
                + std::to_string(max) + ", got " + std::to_string(v));
      return;
    }
    out = static_cast<T>(v);
  }

  void span(const toml::node& n, const std::string& k, duration& out,
            duration min, duration max) {
    auto* s = n.as_string();
    std::optional<duration> d;
    if (s != nullptr)
      d = parse_duration(s->get());
    if (!d) {
      error(k, &n.source(),
            "`" + k
                + "` must be a duration such as \"500ms\", \"5s\", \"5m\" or "
                  "\"1h\", got "
                + describe(n, false));
      return;
    }
    if (*d < min || *d > max) {
      error(k, &n.source(),
            "`" + k + "` must be between " + format_duration(min) + " and "
                + format_duration(max) + ", got " + format_duration(*d));
      return;
    }
    out = *d;
  }

  template<class E, size_t N>
  void choice(const toml::node& n, const std::string& k, E& out,
              const std::array<std::pair<std::string_view, E>, N>& options) {
    std::string names;
    for (auto& [name, value] : options)
      names += (names.empty() ? "" : ", ") + quote(name);
    if (auto* s = n.as_string()) {
      for (auto& [name, value] : options) {
        if (s->get() == name) {
          out = value;
          return;
        }
      }
    }
    error(k, &n.source(),
          "`" + k + "` must be one of " + names + ", got "
              + describe(n, false));
  }

  // Calls `item(element, "key[i]")` for each element of an array.
  template<class F>
  void array(const toml::node& n, const std::string& k, F&& item) {
    auto* a = n.as_array();
    if (a == nullptr) {
      type_error(n, k, "an array");
      return;
    }
    size_t i = 0;
    for (const toml::node& element : *a)
      item(element, k + "[" + std::to_string(i++) + "]");
  }

  void type_error(const toml::node& n, const std::string& k,
                  std::string_view expected) {
    error(k, &n.source(),
          "`" + k + "` must be " + std::string{expected} + ", got "
              + describe(n, is_secret_key(k)));
  }

private:
  diagnostic make(diagnostic::severity level, std::string key,
                  const toml::source_region* at, std::string message) const {
    diagnostic d;
    d.level = level;
    d.key = std::move(key);
    d.message = std::move(message);
    d.file = file_;
    if (at != nullptr) {
      d.line = at->begin.line;
      d.column = at->begin.column;
    }
    return d;
  }

  std::string file_;
};

} // namespace drover::config
