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
constexpr int current_version = 1;

enum class log_level { trace, debug, info, warn, error, critical, off };
enum class ui_theme { dark, light, automatic };
/// What a target's new connections do while the proxy cannot be used
/// (Starting, Reconnecting, Failed): blocked (fail closed), or direct.
enum class not_proxying { block, direct };
/// What the upstream speaks: SOCKS5 (TCP and UDP), or HTTP CONNECT (TCP
/// only: the targets' UDP then follows `when_not_proxying`).
enum class proxy_type { socks5, http };

const char* to_string(log_level x);
const char* to_string(ui_theme x);
const char* to_string(not_proxying x);
const char* to_string(proxy_type x);

struct proxy_settings {
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
  bool operator==(const proxy_settings&) const;
  bool operator!=(const proxy_settings& o) const { return !(*this == o); }
};

struct target_settings {
  std::vector<std::string> processes
      = {"Discord.exe", "DiscordCanary.exe", "DiscordPTB.exe", "Update.exe"};
  bool include_vesktop = false;
  not_proxying when_not_proxying = not_proxying::block;
  bool operator==(const target_settings&) const;
  bool operator!=(const target_settings& o) const { return !(*this == o); }
};

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
  std::string forgejo_repo = "git.okcu.io/root/drover-go";
  bool operator==(const update_settings&) const;
  bool operator!=(const update_settings& o) const { return !(*this == o); }
};

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
  proxy_settings proxy;
  target_settings targets;
  skip_settings skip;
  ui_settings ui;
  update_settings update;
  engine_settings engine;
  check_settings check;
  bool operator==(const settings&) const;
  bool operator!=(const settings& o) const { return !(*this == o); }
};

/// The processes to capture: `targets.processes`, plus Vesktop's executable
/// names when `targets.include_vesktop` is set.
std::vector<std::string> effective_process_names(const target_settings& t);

} // namespace drover::config
