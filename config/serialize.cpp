#include "config/parse.hpp"

#include <cstdio>

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

namespace {

std::string str(std::string_view s) {
  return toml_string(s);
}

std::string boolean(bool b) {
  return b ? "true" : "false";
}

std::string span(duration d) {
  return str(format_duration(d));
}

template<class T, class F>
std::string list(const std::vector<T>& xs, F&& render) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i)
    out += (i == 0 ? "" : ", ") + render(xs[i]);
  return out + "]";
}

} // namespace

std::string serialize(const settings& s) {
  std::string o;
  auto line = [&](std::string text) {
    o += text;
    o += '\n';
  };
  line("# Drover configuration. The tray's Settings page writes this file;");
  line("# edits by hand are picked up while Drover runs. Reference: "
       "docs/config.md");
  line("version = " + std::to_string(s.version));
  line("");
  line("# The upstream SOCKS5 proxy. It must support UDP ASSOCIATE for "
       "Discord voice.");
  line("[proxy]");
  line("host = " + str(s.proxy.host));
  line("port = " + std::to_string(s.proxy.port));
  line("auth = " + boolean(s.proxy.auth)
       + "  # username/password authentication (RFC 1929)");
  line("login = " + str(s.proxy.login));
  line("password = " + str(s.proxy.password));
  line("udp_associate_timeout = " + span(s.proxy.udp_associate_timeout));
  line("tcp_connect_timeout = " + span(s.proxy.tcp_connect_timeout));
  line("");
  line("# Applications whose traffic goes through the proxy, by executable "
       "name.");
  line("[targets]");
  line("processes = " + list(s.targets.processes, [](const std::string& p) {
         return str(p);
       }));
  line("include_vesktop = " + boolean(s.targets.include_vesktop));
  line("# While the proxy cannot be used: block the targets' new connections,"
       " or let them go direct.");
  line("when_not_proxying = " + str(to_string(s.targets.when_not_proxying))
       + "  # block | direct");
  line("");
  line("# Destinations never proxied. Loopback, link-local, broadcast and "
       "DHCP always are.");
  line("[skip]");
  line("extra_skip_cidrs = "
       + list(s.skip.extra_skip_cidrs,
              [](const net::ipv4_cidr& c) { return str(net::to_string(c)); }));
  line("multicast = " + boolean(s.skip.multicast));
  line("");
  line("[ui]");
  line("log_level = " + str(to_string(s.ui.level))
       + "  # trace | debug | info | warn | error | critical | off");
  line("log_max_mb = " + std::to_string(s.ui.log_max_mb));
  line("log_backups = " + std::to_string(s.ui.log_backups));
  line("tray_icon = " + boolean(s.ui.tray_icon));
  line("auto_start = " + boolean(s.ui.auto_start));
  line("shown_tray_toast = " + boolean(s.ui.shown_tray_toast));
  line("theme = " + str(to_string(s.ui.theme)) + "  # dark | light | auto");
  line("");
  line("[update]");
  line("check_on_startup = " + boolean(s.update.check_on_startup));
  line("forgejo_repo = " + str(s.update.forgejo_repo));
  line("");
  line("# Durations are a whole number and a unit: ms, s, m or h.");
  line("[engine]");
  line("heartbeat_interval = " + span(s.engine.heartbeat_interval));
  line("no_traffic_warn_after = " + span(s.engine.no_traffic_warn_after));
  line("reconnect_backoff_initial = "
       + span(s.engine.reconnect_backoff_initial));
  line("reconnect_backoff_max = " + span(s.engine.reconnect_backoff_max));
  line("reconnect_total_cap = " + span(s.engine.reconnect_total_cap));
  line("tcp_idle_timeout = " + span(s.engine.tcp_idle_timeout));
  line("udp_idle_timeout = " + span(s.engine.udp_idle_timeout));
  line("max_flows = " + std::to_string(s.engine.max_flows));
  line("");
  line("# Where `drover check` tests the path through the proxy: a TCP "
       "server,");
  line("# and a STUN server (UDP) whose answer proves datagrams come back.");
  line("[check]");
  line("tcp_target = " + str(s.check.tcp_target.text()));
  line("udp_target = " + str(s.check.udp_target.text()));
  return o;
}

} // namespace drover::config
