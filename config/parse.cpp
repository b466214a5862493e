#include "config/parse.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <sstream>
#include <utility>

#include "config/migrate.hpp"
#include "config/toml_guard.hpp"

namespace drover::config {

namespace {

// -- schema: the keys each section knows (for unknown-key warnings) ---------

struct section_schema {
  std::string_view name;
  std::vector<std::string_view> keys;
};

const std::vector<section_schema>& schema() {
  static const std::vector<section_schema> s = {
      {"proxy",
       {"host", "port", "auth", "login", "password", "udp_associate_timeout",
        "tcp_connect_timeout"}},
      {"targets", {"processes", "include_vesktop", "when_not_proxying"}},
      {"skip", {"extra_skip_cidrs", "multicast"}},
      {"ui",
       {"log_level", "log_max_mb", "log_backups", "tray_icon", "auto_start",
        "shown_tray_toast", "theme"}},
      {"update", {"check_on_startup", "forgejo_repo"}},
      {"engine",
       {"heartbeat_interval", "no_traffic_warn_after",
        "reconnect_backoff_initial", "reconnect_backoff_max",
        "reconnect_total_cap", "tcp_idle_timeout", "udp_idle_timeout",
        "max_flows"}},
      {"check", {"tcp_target", "udp_target"}},
  };
  return s;
}

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

bool is_secret_key(std::string_view key) {
  return key == "proxy.password" || key == "proxy.login";
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + '"';
}

// What a node holds, for "got ..." in messages. Secrets are never echoed.
std::string describe(const toml::node& n, bool secret) {
  switch (n.type()) {
    case toml::node_type::string:
      return secret ? "a string" : "the string " + quote(n.as_string()->get());
    case toml::node_type::integer:
      return secret ? "an integer"
                    : "the integer " + std::to_string(n.as_integer()->get());
    case toml::node_type::floating_point: {
      if (secret)
        return "a number with a fraction";
      std::ostringstream os;
      os << n.as_floating_point()->get();
      return "the number " + os.str();
    }
    case toml::node_type::boolean:
      return secret ? "a boolean" : (n.as_boolean()->get() ? "true" : "false");
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date or time";
    default:
      return "nothing";
  }
}

// -- the reader: typed access with collected, located diagnostics -----------

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

// -- per-section validation --------------------------------------------------

void read_proxy(reader& r, const toml::table* sec, proxy_settings& p) {
  constexpr auto s = "proxy";
  r.key(sec, s, "host", [&](const toml::node& n, const std::string& k) {
    std::string host;
    r.string(n, k, host);
    if (!n.is_string())
      return;
    if (host.find(':') != std::string::npos)
      r.error(k, &n.source(),
              "`" + k
                  + "` must be an IPv4 address or a host name (IPv6 "
                    "proxy addresses are not supported yet), got "
                  + quote(host));
    else if (!valid_host(host))
      r.error(k, &n.source(),
              "`" + k
                  + "` must be an IPv4 address or a host name such as "
                    "\"proxy.example.org\", got "
                  + quote(host));
    else
      p.host = host;
  });
  r.key(sec, s, "port", [&](const toml::node& n, const std::string& k) {
    r.integer(n, k, p.port, 1, 65535);
  });
  r.key(sec, s, "auth", [&](const toml::node& n, const std::string& k) {
    r.boolean(n, k, p.auth);
  });
  // RFC 1929: user name and password are 1..255 bytes each.
  auto credential = [&](const char* name, std::string& out) {
    r.key(sec, s, name, [&](const toml::node& n, const std::string& k) {
      std::string v;
      r.string(n, k, v);
      if (v.size() > 255)
        r.error(k, &n.source(),
                "`" + k + "` must be at most 255 bytes long (RFC 1929), got "
                    + std::to_string(v.size()));
      else
        out = v;
    });
  };
  credential("login", p.login);
  credential("password", p.password);
  r.key(sec, s, "udp_associate_timeout",
        [&](const toml::node& n, const std::string& k) {
          r.span(n, k, p.udp_associate_timeout, 100ms, 5min);
        });
  r.key(sec, s, "tcp_connect_timeout",
        [&](const toml::node& n, const std::string& k) {
          r.span(n, k, p.tcp_connect_timeout, 100ms, 5min);
        });
  if (sec == nullptr)
    return;
  auto where = [&](std::string_view key) {
    auto* n = sec->get(key);
    return n != nullptr ? &n->source() : &sec->source();
  };
  // Only a key that is absent or validly empty is "empty": a key with a bad
  // value has its own error already.
  auto empty = [&](std::string_view key) {
    auto* n = sec->get(key);
    return n == nullptr || (n->is_string() && n->as_string()->get().empty());
  };
  if (p.auth) {
    if (empty("login"))
      r.error("proxy.login", where("login"),
              "`proxy.login` must not be empty when `proxy.auth = true`");
    if (empty("password"))
      r.error("proxy.password", where("password"),
              "`proxy.password` must not be empty when `proxy.auth = true` "
              "(RFC 1929)");
  } else if (!p.login.empty() || !p.password.empty()) {
    r.warn("proxy.auth", where("auth"),
           "`proxy.login`/`proxy.password` are set but `proxy.auth = false`, "
           "so they are not sent; set `proxy.auth = true` to use them");
  }
}

void read_targets(reader& r, const toml::table* sec, target_settings& t) {
  constexpr auto s = "targets";
  r.key(sec, s, "processes", [&](const toml::node& n, const std::string& k) {
    std::vector<std::string> names;
    bool ok = n.is_array();
    r.array(n, k, [&](const toml::node& item, const std::string& ik) {
      auto* str = item.as_string();
      if (str == nullptr) {
        r.type_error(item, ik, "a string");
        ok = false;
        return;
      }
      const std::string& name = str->get();
      if (name.empty() || name.find_first_of("/\\") != std::string::npos) {
        r.error(ik, &item.source(),
                "`" + ik
                    + "` must be an executable's file name such as "
                      "\"Discord.exe\", not empty and not a path, got "
                    + quote(name));
        ok = false;
        return;
      }
      if (std::find(names.begin(), names.end(), name) != names.end())
        r.warn(ik, &item.source(), quote(name) + " is listed twice");
      else
        names.push_back(name);
    });
    if (!ok)
      return;
    if (names.empty())
      r.warn(k, &n.source(),
             "`" + k + "` is empty: Drover will not capture any application");
    t.processes = std::move(names);
  });
  r.key(sec, s, "include_vesktop",
        [&](const toml::node& n, const std::string& k) {
          r.boolean(n, k, t.include_vesktop);
        });
  static constexpr std::array<std::pair<std::string_view, not_proxying>, 2>
      choices
      = {{{"block", not_proxying::block}, {"direct", not_proxying::direct}}};
  r.key(sec, s, "when_not_proxying",
        [&](const toml::node& n, const std::string& k) {
          r.choice(n, k, t.when_not_proxying, choices);
        });
}

void read_skip(reader& r, const toml::table* sec, skip_settings& sk) {
  constexpr auto s = "skip";
  r.key(sec, s, "extra_skip_cidrs",
        [&](const toml::node& n, const std::string& k) {
          std::vector<net::ipv4_cidr> cidrs;
          bool ok = n.is_array();
          r.array(n, k, [&](const toml::node& item, const std::string& ik) {
            auto* str = item.as_string();
            auto c = str != nullptr ? net::parse_ipv4_cidr(str->get())
                                    : std::nullopt;
            if (!c) {
              r.error(ik, &item.source(),
                      "`" + ik
                          + "` must be an IPv4 network such as \"10.0.0.0/8\" "
                            "or an address such as \"192.0.2.7\", got "
                          + describe(item, false));
              ok = false;
              return;
            }
            cidrs.push_back(*c);
          });
          if (ok)
            sk.extra_skip_cidrs = std::move(cidrs);
        });
  r.key(sec, s, "multicast", [&](const toml::node& n, const std::string& k) {
    r.boolean(n, k, sk.multicast);
  });
}

void read_ui(reader& r, const toml::table* sec, ui_settings& u) {
  constexpr auto s = "ui";
  static constexpr std::array<std::pair<std::string_view, log_level>, 7> levels
      = {{{"trace", log_level::trace},
          {"debug", log_level::debug},
          {"info", log_level::info},
          {"warn", log_level::warn},
          {"error", log_level::error},
          {"critical", log_level::critical},
          {"off", log_level::off}}};
  static constexpr std::array<std::pair<std::string_view, ui_theme>, 3> themes
      = {{{"dark", ui_theme::dark},
          {"light", ui_theme::light},
          {"auto", ui_theme::automatic}}};
  r.key(sec, s, "log_level", [&](const toml::node& n, const std::string& k) {
    r.choice(n, k, u.level, levels);
  });
  r.key(sec, s, "log_max_mb", [&](const toml::node& n, const std::string& k) {
    r.integer(n, k, u.log_max_mb, 1, 1024);
  });
  r.key(sec, s, "log_backups", [&](const toml::node& n, const std::string& k) {
    r.integer(n, k, u.log_backups, 0, 100);
  });
  r.key(sec, s, "tray_icon", [&](const toml::node& n, const std::string& k) {
    r.boolean(n, k, u.tray_icon);
  });
  r.key(sec, s, "auto_start", [&](const toml::node& n, const std::string& k) {
    r.boolean(n, k, u.auto_start);
  });
  r.key(sec, s, "shown_tray_toast",
        [&](const toml::node& n, const std::string& k) {
          r.boolean(n, k, u.shown_tray_toast);
        });
  r.key(sec, s, "theme", [&](const toml::node& n, const std::string& k) {
    r.choice(n, k, u.theme, themes);
  });
}

void read_update(reader& r, const toml::table* sec, update_settings& up) {
  constexpr auto s = "update";
  r.key(sec, s, "check_on_startup",
        [&](const toml::node& n, const std::string& k) {
          r.boolean(n, k, up.check_on_startup);
        });
  r.key(sec, s, "forgejo_repo", [&](const toml::node& n, const std::string& k) {
    r.string(n, k, up.forgejo_repo);
  });
}

void read_check(reader& r, const toml::table* sec, check_settings& c) {
  constexpr auto s = "check";
  for (auto [name, field] :
       {std::pair{"tcp_target", &check_settings::tcp_target},
        std::pair{"udp_target", &check_settings::udp_target}})
    r.key(sec, s, name,
          [&, f = field](const toml::node& n, const std::string& k) {
            std::string text;
            if (!n.is_string())
              return r.type_error(n, k, "a string such as \"discord.com:443\"");
            r.string(n, k, text);
            if (auto hp = parse_host_port(text))
              c.*f = *hp;
            else
              r.error(k, &n.source(),
                      "`" + k
                          + "` must be a host name or IPv4 address and a port, "
                            "such as \"discord.com:443\", got "
                          + quote(text));
          });
}

void read_engine(reader& r, const toml::table* sec, engine_settings& e) {
  constexpr auto s = "engine";
  struct span_key {
    const char* name;
    duration engine_settings::*field;
    duration min, max;
  };
  static const span_key spans[] = {
      {"heartbeat_interval", &engine_settings::heartbeat_interval, 1s, 1h},
      {"no_traffic_warn_after", &engine_settings::no_traffic_warn_after, 1s,
       24h},
      {"reconnect_backoff_initial", &engine_settings::reconnect_backoff_initial,
       100ms, 1h},
      {"reconnect_backoff_max", &engine_settings::reconnect_backoff_max, 100ms,
       1h},
      {"reconnect_total_cap", &engine_settings::reconnect_total_cap, 1s, 24h},
      {"tcp_idle_timeout", &engine_settings::tcp_idle_timeout, 10s, 24h},
      {"udp_idle_timeout", &engine_settings::udp_idle_timeout, 5s, 24h},
  };
  for (auto& sp : spans)
    r.key(sec, s, sp.name, [&](const toml::node& n, const std::string& k) {
      r.span(n, k, e.*sp.field, sp.min, sp.max);
    });
  r.key(sec, s, "max_flows", [&](const toml::node& n, const std::string& k) {
    r.integer(n, k, e.max_flows, 64, 1 << 20);
  });
  if (sec == nullptr)
    return;
  auto where = [&](std::string_view key) {
    auto* n = sec->get(key);
    return n != nullptr ? &n->source() : &sec->source();
  };
  if (e.reconnect_backoff_initial > e.reconnect_backoff_max)
    r.error(
        "engine.reconnect_backoff_max", where("reconnect_backoff_max"),
        "`engine.reconnect_backoff_max` ("
            + format_duration(e.reconnect_backoff_max)
            + ") must not be shorter than `engine.reconnect_backoff_initial` ("
            + format_duration(e.reconnect_backoff_initial) + ")");
  if (e.reconnect_backoff_max > e.reconnect_total_cap)
    r.error("engine.reconnect_total_cap", where("reconnect_total_cap"),
            "`engine.reconnect_total_cap` ("
                + format_duration(e.reconnect_total_cap)
                + ") must not be shorter than `engine.reconnect_backoff_max` ("
                + format_duration(e.reconnect_backoff_max) + ")");
}

void warn_unknown_keys(reader& r, const toml::table& root) {
  std::vector<std::string_view> top = {"version"};
  for (auto& sec : schema())
    top.push_back(sec.name);
  for (auto&& [k, node] : root) {
    auto name = k.str();
    auto it = std::find_if(schema().begin(), schema().end(),
                           [&](auto& sec) { return sec.name == name; });
    if (it == schema().end()) {
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
      if (std::find(it->keys.begin(), it->keys.end(), key) != it->keys.end())
        continue;
      auto dotted = std::string{name} + "." + std::string{key};
      auto hint = closest(key, it->keys);
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

  read_proxy(r, r.section(doc, "proxy"), s.proxy);
  read_targets(r, r.section(doc, "targets"), s.targets);
  read_skip(r, r.section(doc, "skip"), s.skip);
  read_ui(r, r.section(doc, "ui"), s.ui);
  read_update(r, r.section(doc, "update"), s.update);
  read_engine(r, r.section(doc, "engine"), s.engine);
  read_check(r, r.section(doc, "check"), s.check);
  warn_unknown_keys(r, doc);

  result.errors = std::move(r.errors);
  result.warnings = std::move(r.warnings);
  if (result.errors.empty())
    result.value = std::move(s);
  return result;
}

} // namespace drover::config
