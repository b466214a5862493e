#include "config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "config/fields.hpp"

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

const char* to_string(proxy_type x) {
  return x == proxy_type::http ? "http" : "socks5";
}

const char* to_string(rule_action x) {
  switch (x) {
    case rule_action::proxy:
      return "proxy";
    case rule_action::direct:
      return "direct";
    case rule_action::block:
      return "block";
  }
  return "proxy";
}

const char* to_string(rule_fallback x) {
  switch (x) {
    case rule_fallback::inherit:
      return "inherit";
    case rule_fallback::block:
      return "block";
    case rule_fallback::direct:
      return "direct";
  }
  return "inherit";
}

not_proxying fallback_of(const app_rule& rule, const target_settings& t) {
  switch (rule.fallback) {
    case rule_fallback::block:
      return not_proxying::block;
    case rule_fallback::direct:
      return not_proxying::direct;
    case rule_fallback::inherit:
      break;
  }
  return t.when_not_proxying;
}

not_proxying strictest_fallback(const settings& s, size_t proxy) {
  for (auto& r : s.rules)
    if (r.action == rule_action::proxy && proxy_index(s, r) == proxy
        && fallback_of(r, s.targets) != not_proxying::direct)
      return not_proxying::block;
  return s.targets.when_not_proxying;
}

size_t proxy_index(const std::vector<std::string>& proxy_names,
                   const app_rule& rule) {
  for (size_t i = 0; i < proxy_names.size(); ++i)
    if (!rule.proxy.empty() && proxy_names[i] == rule.proxy)
      return i;
  return 0;
}

size_t proxy_index(const settings& s, const app_rule& rule) {
  for (size_t i = 0; i < s.proxies.size(); ++i)
    if (!rule.proxy.empty() && s.proxies[i].name == rule.proxy)
      return i;
  return 0;
}

std::optional<size_t> proxy_named(const settings& s, const std::string& name,
                                  std::string& why) {
  std::string names;
  for (size_t i = 0; i < s.proxies.size(); ++i) {
    if (s.proxies[i].name == name)
      return i;
    if (!s.proxies[i].name.empty())
      names += (names.empty() ? "" : ", ") + ("\"" + s.proxies[i].name + "\"");
  }
  why = "no proxy is called \"" + name + "\""
        + (names.empty() ? std::string{" (the proxy has no name)"}
                         : "; the proxies are " + names);
  return std::nullopt;
}

std::vector<std::string> proxy_names(const settings& s) {
  std::vector<std::string> out;
  for (auto& p : s.proxies)
    out.push_back(p.name);
  return out;
}

std::vector<std::string> credentials(const settings& s) {
  std::vector<std::string> out;
  for (auto& p : s.proxies) {
    out.push_back(p.login);
    out.push_back(p.password);
  }
  return out;
}

std::string proxy_label(const proxy_settings& p) {
  return !p.name.empty() ? p.name : p.host + ":" + std::to_string(p.port);
}

bool valid_proxy_name(std::string_view name) {
  if (name.empty() || name.size() > max_proxy_name || name.front() == ' '
      || name.back() == ' ')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '-'
           || c == '_' || c == '.';
  });
}

const char* to_string(not_proxying x) {
  return x == not_proxying::direct ? "direct" : "block";
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 253)
    return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
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

// Section by section, key by key: the field tables (fields.hpp) list them.
bool proxy_settings::operator==(const proxy_settings& o) const {
  return proxy_schema().same(*this, o);
}

bool target_settings::operator==(const target_settings& o) const {
  return targets_schema().same(*this, o);
}

bool skip_settings::operator==(const skip_settings& o) const {
  return skip_schema().same(*this, o);
}

bool ui_settings::operator==(const ui_settings& o) const {
  return ui_schema().same(*this, o);
}

std::string forgejo_repo_problem(const std::string& repo) {
  std::string_view t = repo;
  for (std::string_view scheme : {"https://", "http://"})
    if (t.substr(0, scheme.size()) == scheme)
      t.remove_prefix(scheme.size());
  while (!t.empty() && t.back() == '/')
    t.remove_suffix(1);
  // host[:port], then at least owner and repository.
  size_t parts = 0;
  bool ok = !t.empty();
  for (size_t at = 0; ok && at <= t.size(); ++parts) {
    size_t end = std::min(t.find('/', at), t.size());
    std::string_view part = t.substr(at, end - at);
    ok = !part.empty() && part != "." && part != "..";
    for (char c : part)
      ok = ok
           && (std::isalnum(static_cast<unsigned char>(c)) || c == '-'
               || c == '.' || c == '_' || (parts == 0 && c == ':'));
    at = end + 1;
  }
  if (ok && parts >= 3)
    return {};
  return "must be host/owner/repository of a Forgejo server, such as "
         "\"codeberg.org/owner/drover\"";
}

bool update_settings::operator==(const update_settings& o) const {
  return update_schema().same(*this, o);
}

bool engine_settings::operator==(const engine_settings& o) const {
  return engine_schema().same(*this, o);
}

bool metrics_settings::operator==(const metrics_settings& o) const {
  return metrics_schema().same(*this, o);
}

bool check_settings::operator==(const check_settings& o) const {
  return check_schema().same(*this, o);
}

bool app_rule::operator==(const app_rule& o) const {
  return rule_schema().same(*this, o);
}

app_rule discord_rule() {
  app_rule r;
  r.name = "Discord";
  r.apps = {"Discord.exe", "DiscordCanary.exe", "DiscordPTB.exe", "Update.exe"};
  r.action = rule_action::proxy;
  return r;
}

bool settings::operator==(const settings& o) const {
  return std::tie(version, proxies, targets, rules, skip, ui, update, engine,
                  check, metrics)
         == std::tie(o.version, o.proxies, o.targets, o.rules, o.skip, o.ui,
                     o.update, o.engine, o.check, o.metrics);
}

} // namespace drover::config
