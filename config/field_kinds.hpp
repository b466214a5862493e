#pragma once

// The kinds of config keys the section schemas (config/fields.cpp) are made
// of: how each kind is read (with its limits, its errors at their place)
// and written back. Used by fields.cpp alone.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/durations.hpp"
#include "config/fields.hpp"
#include "config/parse.hpp"
#include "config/reader.hpp"

namespace drover::config::field_kinds {

// A key stored in member `m`: read by `read`, written by `write`.
template<class S, class T>
field<S>
make(std::string_view name, T S::*m,
     std::function<void(reader&, const toml::node&, const std::string&, T&)>
         read,
     std::function<std::string(const T&)> write, std::string_view after = {},
     std::string_view before = {}) {
  field<S> f;
  f.name = name;
  f.read = [m, read = std::move(read)](reader& r, const toml::node& n,
                                       const std::string& k, S& s) {
    read(r, n, k, s.*m);
  };
  f.write = [m, write = std::move(write)](const S& s) {
    return write(s.*m);
  };
  f.same = [m](const S& a, const S& b) {
    return a.*m == b.*m;
  };
  f.after = after;
  f.before = before;
  return f;
}

inline std::string written(bool b) {
  return b ? "true" : "false";
}

template<class S>
field<S> boolean(std::string_view name, bool S::*m,
                 std::string_view after = {}) {
  return make<S, bool>(
      name, m,
      [](reader& r, const toml::node& n, const std::string& k, bool& out) {
        r.boolean(n, k, out);
      },
      written, after);
}

template<class S, class T>
field<S> integer(std::string_view name, T S::*m, int64_t min, int64_t max) {
  return make<S, T>(
      name, m,
      [min, max](reader& r, const toml::node& n, const std::string& k, T& out) {
        r.integer(n, k, out, min, max);
      },
      [](const T& v) { return std::to_string(v); });
}

template<class S>
field<S> span(std::string_view name, duration S::*m, duration min,
              duration max) {
  return make<S, duration>(
      name, m,
      [min, max](reader& r, const toml::node& n, const std::string& k,
                 duration& out) { r.span(n, k, out, min, max); },
      [](const duration& d) { return toml_string(format_duration(d)); });
}

// `problem`, when given, says what is wrong with a string read (empty: ok).
template<class S>
field<S> text(std::string_view name, std::string S::*m,
              std::string (*problem)(const std::string&) = nullptr) {
  return make<S, std::string>(
      name, m,
      [problem](reader& r, const toml::node& n, const std::string& k,
                std::string& out) {
        r.string(n, k, out);
        if (auto why = problem ? problem(out) : ""; !why.empty())
          r.error(k, &n.source(), "`" + k + "` " + why);
      },
      [](const std::string& v) { return toml_string(v); });
}

template<class S, class E, size_t N>
field<S> choice(std::string_view name, E S::*m,
                const std::array<std::pair<std::string_view, E>, N>& options,
                std::string_view after = {}, std::string_view before = {}) {
  return make<S, E>(
      name, m,
      [&options](reader& r, const toml::node& n, const std::string& k, E& out) {
        r.choice(n, k, out, options);
      },
      [](const E& v) { return toml_string(to_string(v)); }, after, before);
}

template<class T, class F>
std::string list(const std::vector<T>& xs, F&& render) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i)
    out += (i == 0 ? "" : ", ") + render(xs[i]);
  return out + "]";
}

// The node that set `key` in `sec`, or the section itself.
inline const toml::source_region* where(const toml::table* sec,
                                        std::string_view key) {
  auto* n = sec->get(key);
  return n != nullptr ? &n->source() : &sec->source();
}

} // namespace drover::config::field_kinds
