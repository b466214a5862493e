#include "actors/metrics_render.hpp"

namespace drover {

namespace {

// A label value as the text format wants it: backslash, quote and newline
// escaped.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& o, const char* name, const char* type,
            const char* help) {
  o += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " "
       + type + "\n";
}

void sample(std::string& o, const char* name, const std::string& labels,
            uint64_t value) {
  o += name;
  if (!labels.empty())
    o += "{" + labels + "}";
  o += " " + std::to_string(value) + "\n";
}

} // namespace

std::string render_metrics(const engine_status& s) {
  std::string o;
  family(o, "drover_state", "gauge",
         "1 for the engine's state, 0 for the others.");
  for (auto state :
       {engine_state::idle, engine_state::starting, engine_state::active,
        engine_state::reconnecting, engine_state::paused, engine_state::failed})
    sample(o, "drover_state", std::string{"state=\""} + to_string(state) + "\"",
           s.last.state == state ? 1 : 0);
  family(o, "drover_degraded", "gauge",
         "1 while Active but a proxy cannot be used, or relays no UDP.");
  sample(o, "drover_degraded", {},
         s.last.state == engine_state::active
                 && (s.last.degraded || s.last.tcp_only)
             ? 1
             : 0);
  family(o, "drover_reconnect_attempts_total", "counter",
         "Reconnect attempts since the engine started.");
  sample(o, "drover_reconnect_attempts_total", {}, s.reconnect_attempts);
  family(o, "drover_restarts_total", "counter",
         "Restarts of the engine's parts since it started.");
  sample(o, "drover_restarts_total", {}, s.restarts);
  family(o, "drover_flows", "gauge", "Open flows.");
  sample(o, "drover_flows", "protocol=\"tcp\"", s.stats.tcp_flows);
  sample(o, "drover_flows", "protocol=\"udp\"", s.stats.udp_flows);
  family(o, "drover_bytes_total", "counter",
         "Bytes carried over Drover's whole life (in: to the programs).");
  sample(o, "drover_bytes_total", "direction=\"in\"", s.lifetime.bytes_in);
  sample(o, "drover_bytes_total", "direction=\"out\"", s.lifetime.bytes_out);
  family(o, "drover_packets_dropped_total", "counter",
         "Packets the engine dropped.");
  sample(o, "drover_packets_dropped_total", {}, s.stats.packets_dropped);
  family(o, "drover_queue_overflows_total", "counter",
         "Packets dropped because the capture queue was full.");
  sample(o, "drover_queue_overflows_total", {}, s.stats.queue_overflows);
  family(o, "drover_packets_fenced_total", "counter",
         "A target's packets stopped by the kernel's fence.");
  sample(o, "drover_packets_fenced_total", {}, s.stats.packets_fenced);
  // Windows sorts every program's packets by their owner (0 on Linux).
  family(o, "drover_packets_sorted_total", "counter",
         "Packets the capture sorted by owner itself (Windows): other "
         "programs' let out, waited for their owner, and with no owner found "
         "let out or dropped.");
  sample(o, "drover_packets_sorted_total", "outcome=\"passed\"",
         s.stats.packets_passed);
  sample(o, "drover_packets_sorted_total", "outcome=\"held\"",
         s.stats.packets_held);
  sample(o, "drover_packets_sorted_total", "outcome=\"unowned_passed\"",
         s.stats.packets_unowned_passed);
  sample(o, "drover_packets_sorted_total", "outcome=\"unowned_dropped\"",
         s.stats.packets_unowned_dropped);
  auto proxy_labels = [](const proxy_row& p) {
    return "proxy=\"" + label_value(p.name) + "\",address=\""
           + label_value(p.host + ":" + std::to_string(p.port)) + "\"";
  };
  family(o, "drover_proxy_up", "gauge", "1 while the proxy is used.");
  for (auto& p : s.proxies)
    sample(o, "drover_proxy_up", proxy_labels(p), p.state == "up" ? 1 : 0);
  family(o, "drover_proxy_tcp_only", "gauge",
         "1 while the proxy carries TCP but refuses UDP.");
  for (auto& p : s.proxies)
    sample(o, "drover_proxy_tcp_only", proxy_labels(p), p.tcp_only ? 1 : 0);
  family(o, "drover_proxy_reconnect_attempt", "gauge",
         "The attempt the proxy is at while reconnecting, else 0.");
  for (auto& p : s.proxies)
    sample(o, "drover_proxy_reconnect_attempt", proxy_labels(p), p.attempt);
  return o;
}

} // namespace drover
