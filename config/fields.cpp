#include "config/fields.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "config/field_kinds.hpp"

namespace drover::config {

namespace {

using namespace field_kinds;

// -- [proxy]
// --------------------------------------------------------------------

void read_host(reader& r, const toml::node& n, const std::string& k,
               std::string& out) {
  std::string host;
  r.string(n, k, host);
  if (!n.is_string())
    return;
  if (host.find(':') != std::string::npos)
    r.error(k, &n.source(),
            "`" + k
                + "` must be an IPv4 address or a host name (IPv6 proxy "
                  "addresses are not supported yet), got "
                + quote(host));
  else if (!valid_host(host))
    r.error(k, &n.source(),
            "`" + k
                + "` must be an IPv4 address or a host name such as "
                  "\"proxy.example.org\", got "
                + quote(host));
  else
    out = host;
}

// RFC 1929: user name and password are 1..255 bytes each.
void read_credential(reader& r, const toml::node& n, const std::string& k,
                     std::string& out) {
  std::string v;
  r.string(n, k, v);
  if (v.size() > 255)
    r.error(k, &n.source(),
            "`" + k + "` must be at most 255 bytes long (RFC 1929), got "
                + std::to_string(v.size()));
  else
    out = v;
}

std::string as_string(const std::string& v) {
  return toml_string(v);
}

void check_credentials(reader& r, const toml::table* sec,
                       const std::string& prefix, proxy_settings& p) {
  if (sec == nullptr)
    return;
  // Only a key that is absent or validly empty is "empty": a key with a bad
  // value has its own error already.
  auto empty = [&](std::string_view key) {
    auto* n = sec->get(key);
    return n == nullptr || (n->is_string() && n->as_string()->get().empty());
  };
  auto k = [&](std::string_view key) {
    return prefix + "." + std::string{key};
  };
  if (p.auth) {
    if (empty("login"))
      r.error(k("login"), where(sec, "login"),
              "`" + k("login") + "` must not be empty when `" + k("auth")
                  + " = true`");
    if (empty("password"))
      r.error(k("password"), where(sec, "password"),
              "`" + k("password") + "` must not be empty when `" + k("auth")
                  + " = true` (RFC 1929)");
  } else if (!p.login.empty() || !p.password.empty()) {
    r.warn(k("auth"), where(sec, "auth"),
           "`" + k("login") + "`/`" + k("password") + "` are set but `"
               + k("auth") + " = false`, so they are not sent; set `"
               + k("auth") + " = true` to use them");
  }
}

// A proxy's `name`: what rules and `drover check --proxy` call it.
void read_proxy_name(reader& r, const toml::node& n, const std::string& k,
                     std::string& out) {
  std::string name;
  r.string(n, k, name);
  if (!n.is_string())
    return;
  if (!valid_proxy_name(name))
    r.error(k, &n.source(),
            "`" + k + "` must be 1 to " + std::to_string(max_proxy_name)
                + " letters, digits, spaces, '-', '_' or '.' (such as "
                  "\"home\" or \"work-vpn\"), got "
                + quote(name));
  else
    out = name;
}

// -- [targets], [skip]
// ------------------------------------------------------------

// A list of strings, each checked by `problem` (the error's text, or empty
// when it is fine); a value listed twice is a warning and kept once. The
// list replaces `out` only when every item is fine.
template<class Check>
void read_strings(reader& r, const toml::node& n, const std::string& k,
                  std::vector<std::string>& out, Check problem) {
  std::vector<std::string> items;
  bool ok = n.is_array();
  r.array(n, k, [&](const toml::node& item, const std::string& ik) {
    auto* str = item.as_string();
    if (str == nullptr) {
      r.type_error(item, ik, "a string");
      ok = false;
      return;
    }
    const std::string& value = str->get();
    if (auto wrong = problem(ik, value); !wrong.empty()) {
      r.error(ik, &item.source(), wrong);
      ok = false;
      return;
    }
    if (std::find(items.begin(), items.end(), value) != items.end())
      r.warn(ik, &item.source(), quote(value) + " is listed twice");
    else
      items.push_back(value);
  });
  if (ok)
    out = std::move(items);
}

// `apps`: executable file names, `*` and `?` as wildcards.
void read_apps(reader& r, const toml::node& n, const std::string& k,
               std::vector<std::string>& out) {
  read_strings(r, n, k, out, [](const std::string& ik, const std::string& v) {
    if (v.empty() || v.find_first_of("/\\") != std::string::npos)
      return "`" + ik
             + "` must be an executable's file name such as \"Discord.exe\" "
               "(or a pattern such as \"Discord*\"), not empty and not a "
               "path (a path goes in `paths`), got "
             + quote(v);
    if (v.size() > max_app_name)
      return "`" + ik + "` is " + std::to_string(v.size())
             + " bytes long; a name Drover compares is at most "
             + std::to_string(max_app_name)
             + " (use `paths` or `folders` for this program)";
    return std::string{};
  });
}

// An absolute path as either system writes one: "/usr/bin/x", "C:\\x",
// "C:/x" or "\\\\server\\share\\x".
bool absolute_path(std::string_view p) {
  if (!p.empty() && p[0] == '/')
    return true;
  if (p.size() >= 3 && std::isalpha(static_cast<unsigned char>(p[0]))
      && p[1] == ':' && (p[2] == '\\' || p[2] == '/'))
    return true;
  return p.size() > 2 && p[0] == '\\' && p[1] == '\\';
}

// `paths` and `folders`: absolute paths.
void read_paths(reader& r, const toml::node& n, const std::string& k,
                std::vector<std::string>& out) {
  read_strings(r, n, k, out, [](const std::string& ik, const std::string& v) {
    if (absolute_path(v))
      return std::string{};
    return "`" + ik
           + "` must be a full path such as \"/usr/bin/discord\" or "
             "\"C:\\\\Apps\\\\Discord\", got "
           + quote(v);
  });
  if (n.is_array())
    r.array(n, k, [&](const toml::node& item, const std::string& ik) {
      if (auto* str = item.as_string();
          str != nullptr && absolute_path(str->get()))
        r.saw_program_path(ik, &item.source(), str->get());
    });
}

void read_cidrs(reader& r, const toml::node& n, const std::string& k,
                std::vector<net::ipv4_cidr>& out) {
  std::vector<net::ipv4_cidr> cidrs;
  bool ok = n.is_array();
  r.array(n, k, [&](const toml::node& item, const std::string& ik) {
    auto* str = item.as_string();
    auto c = str != nullptr ? net::parse_ipv4_cidr(str->get()) : std::nullopt;
    if (!c) {
      r.error(ik, &item.source(),
              "`" + ik
                  + "` must be an IPv4 network such as \"10.0.0.0/8\" or an "
                    "address such as \"192.0.2.7\", got "
                  + describe(item, false));
      ok = false;
      return;
    }
    cidrs.push_back(*c);
  });
  if (ok)
    out = std::move(cidrs);
}

constexpr std::array<std::pair<std::string_view, proxy_type>, 2> proxy_types
    = {{{"socks5", proxy_type::socks5}, {"http", proxy_type::http}}};

constexpr std::array<std::pair<std::string_view, rule_action>, 3> actions
    = {{{"proxy", rule_action::proxy},
        {"direct", rule_action::direct},
        {"block", rule_action::block}}};

constexpr std::array<std::pair<std::string_view, rule_fallback>, 2> fallbacks
    = {{{"block", rule_fallback::block}, {"direct", rule_fallback::direct}}};

constexpr std::array<std::pair<std::string_view, not_proxying>, 2>
    not_proxying_choices
    = {{{"block", not_proxying::block}, {"direct", not_proxying::direct}}};

constexpr std::array<std::pair<std::string_view, log_level>, 7> levels
    = {{{"trace", log_level::trace},
        {"debug", log_level::debug},
        {"info", log_level::info},
        {"warn", log_level::warn},
        {"error", log_level::error},
        {"critical", log_level::critical},
        {"off", log_level::off}}};

constexpr std::array<std::pair<std::string_view, ui_theme>, 3> themes
    = {{{"dark", ui_theme::dark},
        {"light", ui_theme::light},
        {"auto", ui_theme::automatic}}};

// -- [engine], [check]
// ------------------------------------------------------------

void check_backoff(reader& r, const toml::table* sec, const std::string&,
                   engine_settings& e) {
  if (sec == nullptr)
    return;
  if (e.reconnect_backoff_initial > e.reconnect_backoff_max)
    r.error(
        "engine.reconnect_backoff_max", where(sec, "reconnect_backoff_max"),
        "`engine.reconnect_backoff_max` ("
            + format_duration(e.reconnect_backoff_max)
            + ") must not be shorter than `engine.reconnect_backoff_initial` ("
            + format_duration(e.reconnect_backoff_initial) + ")");
  if (e.reconnect_backoff_max > e.reconnect_total_cap)
    r.error("engine.reconnect_total_cap", where(sec, "reconnect_total_cap"),
            "`engine.reconnect_total_cap` ("
                + format_duration(e.reconnect_total_cap)
                + ") must not be shorter than `engine.reconnect_backoff_max` ("
                + format_duration(e.reconnect_backoff_max) + ")");
}

void read_target(reader& r, const toml::node& n, const std::string& k,
                 host_port& out) {
  std::string text;
  if (!n.is_string())
    return r.type_error(n, k, "a string such as \"discord.com:443\"");
  r.string(n, k, text);
  if (auto hp = parse_host_port(text))
    out = *hp;
  else
    r.error(k, &n.source(),
            "`" + k
                + "` must be a host name or IPv4 address and a port, such as "
                  "\"discord.com:443\", got "
                + quote(text));
}

} // namespace

const section_schema<proxy_settings>& proxy_schema() {
  using S = proxy_settings;
  static const section_schema<S> s{
      "proxy",
      "# The upstream proxy: SOCKS5 (with UDP ASSOCIATE for Discord voice), "
      "or an HTTP proxy's CONNECT (TCP only).\n# Several: [[proxy]] tables, "
      "each with a `name` that rules' `proxy` refer to.",
      {
          make<S, std::string>("name", &S::name, read_proxy_name, as_string),
          make<S, std::string>("host", &S::host, read_host, as_string),
          integer("port", &S::port, 1, 65535),
          choice("type", &S::type, proxy_types,
                 "socks5 | http (HTTP CONNECT: TCP only, no voice)"),
          boolean("auth", &S::auth,
                  "a login and password (SOCKS5: RFC 1929; HTTP: Basic)"),
          make<S, std::string>("login", &S::login, read_credential, as_string),
          make<S, std::string>("password", &S::password, read_credential,
                               as_string),
          span("udp_associate_timeout", &S::udp_associate_timeout, 100ms, 5min),
          span("tcp_connect_timeout", &S::tcp_connect_timeout, 100ms, 5min),
          boolean("connect_by_name", &S::connect_by_name,
                  "the proxy resolves the names programs' TLS/HTTP give"),
          integer("spare_connections", &S::spare_connections, 0, 16),
      },
      check_credentials};
  return s;
}

const section_schema<target_settings>& targets_schema() {
  using S = target_settings;
  static const section_schema<S> s{
      "targets",
      "# The targets are the programs a rule sends through the proxy (see "
      "[[rule]]).",
      {
          choice("when_not_proxying", &S::when_not_proxying,
                 not_proxying_choices, "block | direct",
                 "# While the proxy cannot be used: block the targets' new "
                 "connections, or let them go direct."),
      },
      {}};
  return s;
}

const section_schema<app_rule>& rule_schema() {
  using S = app_rule;
  auto strings = [](std::string_view key, std::vector<std::string> S::*m,
                    void (*read)(reader&, const toml::node&, const std::string&,
                                 std::vector<std::string>&),
                    std::string_view after) {
    return make<S, std::vector<std::string>>(
        key, m, read,
        [](const std::vector<std::string>& v) { return list(v, as_string); },
        after);
  };
  static const section_schema<S> s{
      "rule",
      "# Rules, first match wins: which programs (`apps` by file name, `*` "
      "and ? as\n# wildcards; `paths`; `folders`; with `children` the "
      "programs they start too)\n# and what their traffic does: proxy, "
      "direct or block.",
      {
          text("name", &S::name),
          strings("apps", &S::apps, read_apps, ""),
          strings("paths", &S::paths, read_paths, ""),
          strings("folders", &S::folders, read_paths, ""),
          boolean("children", &S::children),
          choice("action", &S::action, actions, "proxy | direct | block"),
          choice("fallback", &S::fallback, fallbacks,
                 "block | direct, while the proxy cannot be used"),
          text("proxy", &S::proxy),
      },
      {}};
  return s;
}

const section_schema<skip_settings>& skip_schema() {
  using S = skip_settings;
  static const section_schema<S> s{
      "skip",
      "# Destinations never proxied. Loopback, link-local, broadcast and "
      "DHCP always are.",
      {
          make<S, std::vector<net::ipv4_cidr>>(
              "extra_skip_cidrs", &S::extra_skip_cidrs, read_cidrs,
              [](const std::vector<net::ipv4_cidr>& v) {
                return list(v, [](const net::ipv4_cidr& c) {
                  return toml_string(net::to_string(c));
                });
              }),
          boolean("multicast", &S::multicast),
      },
      {}};
  return s;
}

const section_schema<ui_settings>& ui_schema() {
  using S = ui_settings;
  static const section_schema<S> s{
      "ui",
      "",
      {
          choice("log_level", &S::level, levels,
                 "trace | debug | info | warn | error | critical | off"),
          integer("log_max_mb", &S::log_max_mb, 1, 1024),
          integer("log_backups", &S::log_backups, 0, 100),
          boolean("tray_icon", &S::tray_icon),
          boolean("auto_start", &S::auto_start),
          boolean("shown_tray_toast", &S::shown_tray_toast),
          choice("theme", &S::theme, themes, "dark | light | auto"),
      },
      {}};
  return s;
}

const section_schema<update_settings>& update_schema() {
  using S = update_settings;
  static const section_schema<S> s{
      "update",
      "",
      {
          boolean("check_on_startup", &S::check_on_startup),
          text("forgejo_repo", &S::forgejo_repo, forgejo_repo_problem),
      },
      {}};
  return s;
}

const section_schema<engine_settings>& engine_schema() {
  using S = engine_settings;
  static const section_schema<S> s{
      "engine",
      "# Durations are a whole number and a unit: ms, s, m or h.",
      {
          span("heartbeat_interval", &S::heartbeat_interval, 1s, 1h),
          span("no_traffic_warn_after", &S::no_traffic_warn_after, 1s, 24h),
          span("reconnect_backoff_initial", &S::reconnect_backoff_initial,
               100ms, 1h),
          span("reconnect_backoff_max", &S::reconnect_backoff_max, 100ms, 1h),
          span("reconnect_total_cap", &S::reconnect_total_cap, 1s, 24h),
          span("tcp_idle_timeout", &S::tcp_idle_timeout, 10s, 24h),
          span("udp_idle_timeout", &S::udp_idle_timeout, 5s, 24h),
          integer("max_flows", &S::max_flows, 64, 1 << 20),
      },
      check_backoff};
  return s;
}

const section_schema<check_settings>& check_schema() {
  using S = check_settings;
  auto target = [](std::string_view name, host_port S::*m) {
    return make<S, host_port>(name, m, read_target, [](const host_port& hp) {
      return toml_string(hp.text());
    });
  };
  static const section_schema<S> s{
      "check",
      "# Where `drover check` tests the path through the proxy: a TCP "
      "server,\n# and a STUN server (UDP) whose answer proves datagrams come "
      "back.",
      {target("tcp_target", &S::tcp_target),
       target("udp_target", &S::udp_target)},
      {}};
  return s;
}

namespace {

// `listen`: "" (off) or a loopback IPv4 address and a port. Anything else
// is refused: the endpoint has no login, and the engine's numbers (which
// programs run, how much they send) are nobody else's business.
void read_listen(reader& r, const toml::node& n, const std::string& k,
                 std::optional<host_port>& out) {
  std::string text;
  if (!n.is_string())
    return r.type_error(n, k, "a string such as \"127.0.0.1:9464\"");
  r.string(n, k, text);
  if (text.empty()) {
    out.reset();
    return;
  }
  auto hp = parse_host_port(text);
  auto ip = hp ? net::parse_ipv4(hp->host) : std::nullopt;
  if (!ip || (ip->value >> 24) != 127)
    return r.error(k, &n.source(),
                   "`" + k
                       + "` must be a loopback address and a port, such as "
                         "\"127.0.0.1:9464\" (the endpoint has no login, so "
                         "it is never on the network), or \"\" for off; got "
                       + quote(text));
  out = *hp;
}

} // namespace

const section_schema<metrics_settings>& metrics_schema() {
  using S = metrics_settings;
  static const section_schema<S> s{
      "metrics",
      "# A Prometheus endpoint (http://ADDRESS/metrics) with the engine's "
      "state and counters.\n# Off while `listen` is \"\"; loopback only: "
      "\"127.0.0.1:9464\".",
      {make<S, std::optional<host_port>>(
          "listen", &S::listen, read_listen,
          [](const std::optional<host_port>& hp) {
            return toml_string(hp ? hp->text() : std::string{});
          })},
      {}};
  return s;
}

std::vector<std::pair<std::string_view, std::vector<std::string_view>>>
known_keys() {
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> out;
  std::vector<std::string_view> proxy_keys;
  for (auto& f : proxy_schema().fields)
    proxy_keys.push_back(f.name);
  out.emplace_back(proxy_schema().name, std::move(proxy_keys));
  for_each_section([&](auto, const auto& schema) {
    std::vector<std::string_view> keys;
    for (auto& f : schema.fields)
      keys.push_back(f.name);
    out.emplace_back(schema.name, std::move(keys));
    if (schema.name == targets_schema().name) {
      std::vector<std::string_view> rule_keys;
      for (auto& f : rule_schema().fields)
        rule_keys.push_back(f.name);
      out.emplace_back(rule_schema().name, std::move(rule_keys));
    }
  });
  return out;
}

} // namespace drover::config
