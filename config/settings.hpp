#pragma once

// The configuration schema: every section and key of config.toml with its
// default. Pure data; parsing lives in parse.hpp, files in config_file.hpp.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/ipv4.hpp"

namespace drover::config {

using duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

/// The schema version this build writes and understands.
constexpr int current_version = 2;

enum class log_level { trace, debug, info, warn, error, critical, off };
enum class ui_theme { dark, light, automatic };
/// What a target's new connections do while the proxy cannot be used
/// (Starting, Reconnecting, Failed): blocked (fail closed), or direct.
enum class not_proxying { block, direct };
/// What the upstream speaks: SOCKS5 (TCP and UDP), or HTTP CONNECT (TCP
/// only: the targets' UDP then follows `when_not_proxying`).
enum class proxy_type { socks5, http };
/// What a rule does with the programs it matches.
enum class rule_action { proxy, direct, block };
/// A `proxy` rule's programs while the proxy cannot be used: as
/// `[targets] when_not_proxying` says (`inherit`), blocked, or direct.
enum class rule_fallback { inherit, block, direct };

const char* to_string(log_level x);
const char* to_string(ui_theme x);
const char* to_string(not_proxying x);
const char* to_string(proxy_type x);
const char* to_string(rule_action x);
const char* to_string(rule_fallback x);

struct proxy_settings {
  /// What rules (`proxy = "NAME"`), `drover check --proxy NAME`, the status
  /// and the Timeline call it; may stay empty when there is only one.
  std::string name;
  std::string host = "95.165.72.59";
  uint16_t port = 12334;
  proxy_type type = proxy_type::socks5;
  bool auth = false;
  std::string login;
  std::string password;
  duration udp_associate_timeout = 5s;
  duration tcp_connect_timeout = 10s;
  /// Ask the proxy to connect by the host name a program's TLS or HTTP
  /// names, so the proxy resolves it (the local DNS answer stops mattering).
  bool connect_by_name = true;
  /// Proxy connections opened and greeted ahead while targets open
  /// connections in bursts (Linux's relay), so each new one costs only its
  /// CONNECT's round trip; 0: none.
  uint16_t spare_connections = 4;
  bool operator==(const proxy_settings&) const;
  bool operator!=(const proxy_settings& o) const { return !(*this == o); }
};

/// What happens to the targets (the programs a `proxy` rule matches) while
/// the proxy cannot be used.
struct target_settings {
  not_proxying when_not_proxying = not_proxying::block;
  bool operator==(const target_settings&) const;
  bool operator!=(const target_settings& o) const { return !(*this == o); }
};

/// One `[[rule]]`: which programs, and what happens to their traffic. The
/// first rule that matches a program decides; a program no rule matches is
/// left alone (direct).
struct app_rule {
  std::string name; // for people: the Timeline, the Flows view
  /// Executable file names; `*` and `?` are wildcards. Windows compares
  /// without case; Linux exactly, and "X.exe" also finds "X".
  std::vector<std::string> apps;
  std::vector<std::string> paths;   // full paths of executables
  std::vector<std::string> folders; // every executable below these
  bool children = false;            // and every process the matched ones start
  rule_action action = rule_action::proxy;
  rule_fallback fallback = rule_fallback::inherit;
  /// A `proxy` rule's upstream: a `[[proxy]]`'s name; empty: the first.
  std::string proxy;
  bool operator==(const app_rule&) const;
  bool operator!=(const app_rule& o) const { return !(*this == o); }
};

/// The rule a fresh install has: Discord (and its updater) through the
/// proxy.
app_rule discord_rule();

/// What `rule`'s programs do while the proxy cannot be used: its own
/// `fallback`, else `[targets] when_not_proxying`.
not_proxying fallback_of(const app_rule& rule, const target_settings& t);

struct settings;

/// How many `[[proxy]]` entries a file may have (the kernel gives each its
/// own socket mark and the relay its own listener).
constexpr size_t max_proxies = 8;
/// A proxy's name: letters, digits, ' ', '-', '_' and '.', 1..32 bytes.
constexpr size_t max_proxy_name = 32;
bool valid_proxy_name(std::string_view name);

/// How many rules a file may have (the kernel's matcher keeps them in a
/// 32-bit set) and how many of their `apps` may be wildcards.
constexpr size_t max_rules = 32;
constexpr size_t max_wildcard_apps = 16;
/// Names, paths and folders are compared by the kernel in buffers of 64
/// bytes (names) and by identity (paths, folders).
constexpr size_t max_app_name = 63;

struct skip_settings {
  std::vector<net::ipv4_cidr> extra_skip_cidrs;
  bool multicast = true;
  bool operator==(const skip_settings&) const;
  bool operator!=(const skip_settings& o) const { return !(*this == o); }
};

struct ui_settings {
  log_level level = log_level::info; // `log_level` in the file
  uint32_t log_max_mb = 10;
  uint32_t log_backups = 3;
  bool tray_icon = true;
  bool auto_start = false;
  bool shown_tray_toast = false;
  ui_theme theme = ui_theme::dark;
  bool operator==(const ui_settings&) const;
  bool operator!=(const ui_settings& o) const { return !(*this == o); }
};

struct update_settings {
  bool check_on_startup = true;
  // host[:port][/path]/owner/repository, optionally after "http://" or
  // "https://" (docs/updates.md).
  std::string forgejo_repo = "git.okcu.io/root/drover-go";
  bool operator==(const update_settings&) const;
  bool operator!=(const update_settings& o) const { return !(*this == o); }
};

/// What is wrong with an `[update] forgejo_repo` value, in words ("must be
/// …"); empty when it is host[:port][/path]/owner/repository (the tray's
/// updater reads it the same way).
std::string forgejo_repo_problem(const std::string& repo);

/// A host (IPv4 address or name) and a port, as `check` targets are given.
struct host_port {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
  bool operator==(const host_port& o) const {
    return host == o.host && port == o.port;
  }
};

/// A host name or an IPv4 address: letters, digits, '-' and '.'.
bool valid_host(std::string_view host);

/// "host:port" with a valid host name or IPv4 address and a port 1..65535.
std::optional<host_port> parse_host_port(std::string_view text);

/// Where `drover check` (and the tray's Run check) test the path through
/// the proxy.
struct check_settings {
  host_port tcp_target{"discord.com", 443};
  host_port udp_target{"stun.l.google.com", 19302}; // a STUN server
  bool operator==(const check_settings&) const;
  bool operator!=(const check_settings& o) const { return !(*this == o); }
};

/// `[metrics]`: a Prometheus text endpoint (seed 003), on loopback only
/// (it has no login); off while `listen` is empty.
struct metrics_settings {
  std::optional<host_port> listen; // "127.0.0.1:9464"; nothing: off
  bool operator==(const metrics_settings&) const;
  bool operator!=(const metrics_settings& o) const { return !(*this == o); }
};

struct engine_settings {
  duration heartbeat_interval = 5s;
  duration no_traffic_warn_after = 30s;
  duration reconnect_backoff_initial = 1s;
  duration reconnect_backoff_max = 30s;
  duration reconnect_total_cap = 5min;
  duration tcp_idle_timeout = 30min;
  duration udp_idle_timeout = 5min;
  uint32_t max_flows = 16384;
  bool operator==(const engine_settings&) const;
  bool operator!=(const engine_settings& o) const { return !(*this == o); }
};

struct settings {
  int version = current_version;
  /// `[proxy]` (one) or `[[proxy]]` (several, each with a name); never
  /// empty. Rules without `proxy` use the first.
  std::vector<proxy_settings> proxies = {proxy_settings{}};
  target_settings targets;
  std::vector<app_rule> rules = {discord_rule()};
  skip_settings skip;
  ui_settings ui;
  update_settings update;
  engine_settings engine;
  check_settings check;
  metrics_settings metrics;
  bool operator==(const settings&) const;
  bool operator!=(const settings& o) const { return !(*this == o); }
};

/// Which of `s.proxies` a `proxy` rule uses: the one it names, else the
/// first (parse() refuses a name no proxy has).
size_t proxy_index(const settings& s, const app_rule& rule);
/// The same, given the proxies' names in order.
size_t proxy_index(const std::vector<std::string>& proxy_names,
                   const app_rule& rule);
/// The place of the proxy called `name` (`drover run --proxy`, `drover
/// check --proxy`); nothing, with `why` a sentence naming the proxies
/// there are, when none is.
std::optional<size_t> proxy_named(const settings& s, const std::string& name,
                                  std::string& why);
/// The proxies' names in order (the capture's rules choose by them).
std::vector<std::string> proxy_names(const settings& s);

/// Every proxy's login and password (what logs and traces must never show).
std::vector<std::string> credentials(const settings& s);

/// How people see a proxy in sentences: its name, else host:port.
std::string proxy_label(const proxy_settings& p);

/// What a socket made while proxy number `proxy` could still be used does
/// once it cannot, whichever of its rules it came from (its relay cannot
/// tell them apart): direct only when every `proxy` rule through it and
/// `[targets]` say direct, else blocked.
not_proxying strictest_fallback(const settings& s, size_t proxy);

} // namespace drover::config
