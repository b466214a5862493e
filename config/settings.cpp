#include "config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace drover::config {

const char* to_string(log_level x) {
  switch (x) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::critical:
      return "critical";
    case log_level::off:
      return "off";
  }
  return "info";
}

const char* to_string(ui_theme x) {
  switch (x) {
    case ui_theme::dark:
      return "dark";
    case ui_theme::light:
      return "light";
    case ui_theme::automatic:
      return "auto";
  }
  return "dark";
}

const char* to_string(not_proxying x) {
  return x == not_proxying::direct ? "direct" : "block";
}

bool proxy_settings::operator==(const proxy_settings& o) const {
  return std::tie(host, port, auth, login, password, udp_associate_timeout,
                  tcp_connect_timeout)
         == std::tie(o.host, o.port, o.auth, o.login, o.password,
                     o.udp_associate_timeout, o.tcp_connect_timeout);
}

bool target_settings::operator==(const target_settings& o) const {
  return std::tie(processes, include_vesktop, when_not_proxying)
         == std::tie(o.processes, o.include_vesktop, o.when_not_proxying);
}

bool skip_settings::operator==(const skip_settings& o) const {
  return std::tie(extra_skip_cidrs, multicast)
         == std::tie(o.extra_skip_cidrs, o.multicast);
}

bool ui_settings::operator==(const ui_settings& o) const {
  return std::tie(level, log_max_mb, log_backups, tray_icon, auto_start,
                  shown_tray_toast, theme)
         == std::tie(o.level, o.log_max_mb, o.log_backups, o.tray_icon,
                     o.auto_start, o.shown_tray_toast, o.theme);
}

bool update_settings::operator==(const update_settings& o) const {
  return std::tie(check_on_startup, forgejo_repo)
         == std::tie(o.check_on_startup, o.forgejo_repo);
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 253)
    return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

bool check_settings::operator==(const check_settings& o) const {
  return tcp_target == o.tcp_target && udp_target == o.udp_target;
}

std::optional<host_port> parse_host_port(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return std::nullopt;
  auto host = text.substr(0, colon);
  auto port = text.substr(colon + 1);
  if (!valid_host(host) || port.empty() || port.size() > 5)
    return std::nullopt;
  uint32_t n = 0;
  for (char c : port) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n == 0 || n > 65535)
    return std::nullopt;
  return host_port{std::string{host}, static_cast<uint16_t>(n)};
}

bool engine_settings::operator==(const engine_settings& o) const {
  return std::tie(heartbeat_interval, no_traffic_warn_after,
                  reconnect_backoff_initial, reconnect_backoff_max,
                  reconnect_total_cap, tcp_idle_timeout, udp_idle_timeout,
                  max_flows)
         == std::tie(o.heartbeat_interval, o.no_traffic_warn_after,
                     o.reconnect_backoff_initial, o.reconnect_backoff_max,
                     o.reconnect_total_cap, o.tcp_idle_timeout,
                     o.udp_idle_timeout, o.max_flows);
}

bool settings::operator==(const settings& o) const {
  return std::tie(version, proxy, targets, skip, ui, update, engine, check)
         == std::tie(o.version, o.proxy, o.targets, o.skip, o.ui, o.update,
                     o.engine, o.check);
}

std::vector<std::string> effective_process_names(const target_settings& t) {
  auto names = t.processes;
  if (t.include_vesktop)
    for (const char* v : {"Vesktop.exe", "vesktop"})
      names.emplace_back(v);
  return names;
}

} // namespace drover::config
