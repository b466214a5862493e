#include "actors/control_render.hpp"

#include <cstdio>

#include "actors/log/json.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"

namespace drover {

namespace {

std::chrono::system_clock::time_point wall(caf::timestamp t) {
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(t);
}

std::string endpoint_text(uint32_t ip, uint16_t port) {
  return net::to_string(net::ipv4_address{ip}) + ":" + std::to_string(port);
}

std::string duration_text(std::chrono::seconds d) {
  auto s = d.count();
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm %02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

std::chrono::seconds since(caf::timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(caf::make_timestamp()
                                                          - t);
}

void field(std::string& out, const char* key, const std::string& text) {
  out += '"';
  out += key;
  out += "\":";
  json::append_string(out, text);
  out += ',';
}

void flag(std::string& out, const char* key, bool v) {
  out += '"';
  out += key;
  out += "\":";
  out += v ? "true" : "false";
  out += ',';
}

void field(std::string& out, const char* key, uint64_t v) {
  out += '"';
  out += key;
  out += "\":";
  out += std::to_string(v);
  out += ',';
}

void close_object(std::string& out) {
  if (!out.empty() && out.back() == ',')
    out.back() = '}';
  else
    out += '}';
}

// An event's fields, without braces (shared by `status --json` and the
// follow stream).
void event_fields(std::string& o, const engine_event& e) {
  field(o, "time", trace::format_timestamp(wall(e.time)));
  field(o, "kind", to_string(e.kind));
  field(o, "state", to_string(e.state));
  field(o, "reason", e.reason);
  flag(o, "tcp_only", e.tcp_only);
  flag(o, "degraded", e.degraded);
  if (!e.proxy.empty())
    field(o, "proxy", e.proxy);
  field(o, "failure", to_string(e.failure));
  field(o, "attempt", e.attempt);
}

// "home (192.0.2.1:1080)", or "192.0.2.1:1080" without a name.
std::string proxy_row_name(const proxy_row& p) {
  auto where = p.host + ":" + std::to_string(p.port);
  return p.name.empty() ? where : p.name + " (" + where + ")";
}

// "up", "up, TCP only", "reconnecting, attempt 3 (why)", "failed (why)".
std::string proxy_row_state(const proxy_row& p) {
  std::string out = p.state;
  if (p.state == "up" && p.tcp_only)
    out += ", TCP only (no voice)";
  if (p.attempt > 0)
    out += ", attempt " + std::to_string(p.attempt);
  if (!p.reason.empty())
    out += " (" + p.reason + ")";
  return out;
}

// The counters both `status --json` and the follow stream's stats have.
void counter_fields(std::string& o, const stats_snapshot& s) {
  field(o, "bytes_in", s.bytes_in);
  field(o, "bytes_out", s.bytes_out);
  field(o, "tcp_flows", s.tcp_flows);
  field(o, "udp_flows", s.udp_flows);
  field(o, "packets_dropped", s.packets_dropped);
  field(o, "queue_overflows", s.queue_overflows);
  field(o, "packets_fenced", s.packets_fenced);
  field(o, "packets_passed", s.packets_passed);
  field(o, "packets_held", s.packets_held);
  field(o, "packets_unowned_passed", s.packets_unowned_passed);
  field(o, "packets_unowned_dropped", s.packets_unowned_dropped);
}

// `"name":[{...},{...}]`: each item's fields written by `fields`.
template<class Item, class Fields>
void array(std::string& o, const char* name, const std::vector<Item>& items,
           Fields fields) {
  o += "\"";
  o += name;
  o += "\":[";
  for (auto& item : items) {
    o += '{';
    fields(o, item);
    close_object(o);
    o += ',';
  }
  if (o.back() == ',')
    o.pop_back();
  o += ']';
}

std::string event_text(const engine_event& e) {
  return trace::format_timestamp(wall(e.time)).substr(11, 8) + "  " + label(e)
         + ": " + e.reason
         + (e.attempt > 0 ? " (attempt " + std::to_string(e.attempt) + ")"
                          : "");
}

std::string render_json(const engine_status& s,
                        const std::vector<flow_descriptor>& flows,
                        const std::string& config_path) {
  std::string o = "{";
  field(o, "config", config_path);
  field(o, "log", log::log_file().string());
  o += std::string{"\"trace\":"} + (trace::enabled() ? "true" : "false") + ",";
  field(o, "state", to_string(s.last.state));
  field(o, "reason", s.last.reason);
  flag(o, "tcp_only", s.last.tcp_only);
  flag(o, "degraded", s.last.degraded);
  field(o, "failure", to_string(s.last.failure));
  field(o, "attempt", s.last.attempt);
  field(o, "since", trace::format_timestamp(wall(s.last.time)));
  array(o, "proxies", s.proxies, [](std::string& obj, const proxy_row& p) {
    field(obj, "name", p.name);
    field(obj, "host", p.host);
    field(obj, "port", p.port);
    field(obj, "state", p.state);
    flag(obj, "tcp_only", p.tcp_only);
    field(obj, "attempt", p.attempt);
    field(obj, "reason", p.reason);
  });
  o += ',';
  bool active = s.last.state == engine_state::active;
  field(o, "uptime_seconds",
        active ? static_cast<uint64_t>(since(s.stats.active_since).count())
               : 0);
  counter_fields(o, s.stats);
  field(o, "ipv6_dropped", s.stats.ipv6_dropped);
  field(o, "refused_connections", s.stats.refused_listener);
  field(o, "flows_evicted", s.stats.flows_evicted);
  field(o, "connections_reset", s.stats.connections_reset);
  o += std::string{"\"no_traffic\":"} + (s.stats.no_traffic ? "true" : "false")
       + ",";
  field(o, "reconnect_attempts", s.reconnect_attempts);
  field(o, "restarts", s.restarts);
  o += "\"lifetime\":{";
  field(o, "bytes_in", s.lifetime.bytes_in);
  field(o, "bytes_out", s.lifetime.bytes_out);
  field(o, "since", s.lifetime.since);
  close_object(o);
  o += ',';
  array(o, "flows", flows, [](std::string& obj, const flow_descriptor& f) {
    field(obj, "id", f.id);
    field(obj, "protocol", f.protocol == 6 ? "tcp" : "udp");
    field(obj, "process", f.process);
    field(obj, "pid", f.pid);
    field(obj, "rule", f.rule);
    if (!f.proxy.empty())
      field(obj, "proxy", f.proxy);
    field(obj, "source", endpoint_text(f.src_ip, f.src_port));
    field(obj, "destination", endpoint_text(f.dst_ip, f.dst_port));
    field(obj, "bytes_in", f.bytes_in);
    field(obj, "bytes_out", f.bytes_out);
    field(obj, "age_seconds", static_cast<uint64_t>(since(f.started).count()));
  });
  o += ',';
  array(o, "targets", s.targets, [](std::string& obj, const process_info& t) {
    field(obj, "pid", t.pid);
    field(obj, "name", t.name);
    field(obj, "rule", t.rule);
  });
  o += ',';
  array(o, "events", s.recent,
        [](std::string& obj, const engine_event& e) { event_fields(obj, e); });
  o += "}\n";
  return o;
}

std::string render_text(const engine_status& s,
                        const std::vector<flow_descriptor>& flows) {
  std::string o;
  auto line = [&](const std::string& label, const std::string& value) {
    o += label;
    o.append(label.size() < 10 ? 10 - label.size() : 1, ' ');
    o += value + "\n";
  };
  auto state = std::string{to_string(s.last.state)};
  state[0] = static_cast<char>(state[0] - 'a' + 'A');
  line("State:",
       state + (s.last.reason.empty() ? "" : " (" + s.last.reason + ")"));
  if (s.last.attempt > 0)
    line("Attempt:", std::to_string(s.last.attempt));
  if (s.last.tcp_only && s.last.state == engine_state::active)
    line("Warning:", "the proxy does not relay UDP: voice cannot go through "
                     "it");
  if (s.last.degraded && s.last.state == engine_state::active)
    line("Warning:", "not every proxy can be used now: the programs of those "
                     "that cannot follow their fallback");
  if (s.proxies.size() > 1) {
    o += "Proxies:\n";
    for (auto& p : s.proxies)
      o += "  " + proxy_row_name(p) + ": " + proxy_row_state(p) + "\n";
  }
  if (s.stats.no_traffic)
    line("Warning:", "no traffic through the proxy lately while a target "
                     "program runs");
  if (s.last.state == engine_state::active)
    line("Uptime:", duration_text(since(s.stats.active_since)));
  line("Traffic:", "in " + bytes_text(s.stats.bytes_in) + ", out "
                       + bytes_text(s.stats.bytes_out));
  if (!s.lifetime.since.empty())
    line("All time:", "in " + bytes_text(s.lifetime.bytes_in) + ", out "
                          + bytes_text(s.lifetime.bytes_out) + " (since "
                          + s.lifetime.since + ")");
  if (!s.targets.empty()) {
    std::string running;
    for (auto& t : s.targets)
      running += (running.empty() ? "" : ", ") + t.name + " (pid "
                 + std::to_string(t.pid) + ", rule " + t.rule + ")";
    line("Targets:", running);
  }
  line("Flows:", std::to_string(s.stats.tcp_flows) + " TCP, "
                     + std::to_string(s.stats.udp_flows) + " UDP");
  line("Dropped:",
       std::to_string(s.stats.packets_dropped) + " packets ("
           + std::to_string(s.stats.ipv6_dropped) + " IPv6), "
           + std::to_string(s.stats.refused_listener) + " refused connections, "
           + std::to_string(s.stats.flows_evicted) + " evicted flows");
  if (s.stats.queue_overflows > 0)
    line("Overflow:", std::to_string(s.stats.queue_overflows)
                          + " packets the capture queue could not hold (the "
                          + "engine fell behind; the applications resend "
                          + "them)");
  if (s.stats.packets_fenced > 0 || s.stats.connections_reset > 0)
    line("Blocked:", std::to_string(s.stats.packets_fenced)
                         + " packets that would have gone direct, "
                         + std::to_string(s.stats.connections_reset)
                         + " connections reset (made before Drover saw them)");
  // Windows: every program's packets reach Drover, which lets the others'
  // out; the ones whose owner it could not name are where a target's
  // packet could have gone wrong (docs/troubleshooting.md).
  if (capture_sorted_packets(s.stats))
    line("Sorted:",
         std::to_string(s.stats.packets_passed)
             + " packets of other programs let out, "
             + std::to_string(s.stats.packets_held)
             + " waited for their owner; with no owner found: "
             + std::to_string(s.stats.packets_unowned_passed) + " let out, "
             + std::to_string(s.stats.packets_unowned_dropped) + " dropped");
  if (!flows.empty()) {
    o += "\nOpen flows:\n";
    for (auto& f : flows)
      o += "  " + (f.process.empty() ? "" : f.process + " ")
           + (f.rule.empty() ? "" : "[" + f.rule + "] ")
           + (f.proxy.empty() ? "" : "via " + f.proxy + " ")
           + std::string{f.protocol == 6 ? "TCP " : "UDP "}
           + endpoint_text(f.src_ip, f.src_port) + " -> "
           + endpoint_text(f.dst_ip, f.dst_port) + "  in "
           + bytes_text(f.bytes_in) + ", out " + bytes_text(f.bytes_out) + ", "
           + duration_text(since(f.started)) + "\n";
  }
  if (!s.recent.empty()) {
    o += "\nRecent events:\n";
    for (auto& e : s.recent)
      o += "  " + event_text(e) + "\n";
  }
  return o;
}

} // namespace

std::string render_event(const engine_event& e, bool json) {
  if (!json)
    return event_text(e) + "\n";
  std::string o = "{";
  field(o, "type", "event");
  event_fields(o, e);
  close_object(o);
  return o + "\n";
}

std::string render_stats(const stats_snapshot& s) {
  std::string o = "{";
  field(o, "type", "stats");
  counter_fields(o, s);
  // Meaningful while Active: the start of the current Active period.
  field(o, "uptime_seconds",
        s.active_since == caf::timestamp{}
            ? 0
            : static_cast<uint64_t>(since(s.active_since).count()));
  o += std::string{"\"no_traffic\":"} + (s.no_traffic ? "true" : "false");
  return o + "}\n";
}

std::string render_status(const engine_status& s,
                          const std::vector<flow_descriptor>& flows, bool json,
                          const std::string& config_path) {
  return json ? render_json(s, flows, config_path) : render_text(s, flows);
}

} // namespace drover
