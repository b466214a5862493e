#include "actors/check_report.hpp"

#include <cstdio>

#include "actors/log/json.hpp"

namespace drover {

namespace {

std::string millis(uint32_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(micros) / 1000.0);
  return buf;
}

} // namespace

std::string check_summary(const probe_result& r) {
  using v = probe_verdict;
  switch (r.verdict) {
    case v::ok:
      return "Every check passed: Discord's chat and voice can go through "
             "this proxy.";
    case v::unreachable:
      return "Drover cannot use this proxy (" + r.reason
             + "). Check [proxy] host and port, and that the proxy runs.";
    case v::auth_rejected: {
      auto text = r.reason; // a sentence of its own, with its advice
      if (!text.empty() && text[0] >= 'a' && text[0] <= 'z')
        text[0] = static_cast<char>(text[0] - 'a' + 'A');
      return text + ".";
    }
    case v::not_socks5:
      return "This is not the kind of proxy [proxy] type says: " + r.reason
             + ". Check [proxy] host, port and type.";
    case v::tcp_only:
      return "TCP works through this proxy, but it does not relay UDP ("
             + r.udp_detail
             + "): Discord's chat can go through it, voice cannot. Drover "
               "uses it for TCP; the targets' UDP is blocked (or goes direct "
               "with [targets] when_not_proxying = \"direct\"). For voice, "
               "use a proxy with UDP ASSOCIATE.";
    case v::path_failed:
      break;
  }
  std::string failed;
  for (auto& s : r.steps)
    if (!s.ok)
      failed += (failed.empty() ? "" : ", ") + s.name;
  return "The proxy answers, but not everything works through it (" + failed
         + "); see above.";
}

std::string check_text(const probe_result& r, const std::string& proxy) {
  std::string out = "Checking the proxy " + proxy + "\n";
  size_t width = 0;
  for (auto& s : r.steps)
    width = std::max(width, s.name.size());
  for (auto& s : r.steps) {
    out += s.ok ? "  ok    " : "  FAIL  ";
    out += s.name + std::string(width - s.name.size() + 2, ' ');
    out += millis(s.micros) + " ms\n";
    if (!s.detail.empty())
      out += "        " + s.detail + "\n";
  }
  return out + check_summary(r) + "\n";
}

std::string check_json(const probe_result& r, const std::string& proxy,
                       const std::string& name) {
  std::string out = "{\"proxy\":";
  json::append_string(out, proxy);
  if (!name.empty()) {
    out += ",\"name\":";
    json::append_string(out, name);
  }
  out += ",\"ok\":";
  out += r.verdict == probe_verdict::ok ? "true" : "false";
  out += ",\"tcp_only\":";
  out += r.verdict == probe_verdict::tcp_only ? "true" : "false";
  out += ",\"summary\":";
  json::append_string(out, check_summary(r));
  out += ",\"steps\":[";
  for (size_t i = 0; i < r.steps.size(); ++i) {
    auto& s = r.steps[i];
    out += i == 0 ? "{" : ",{";
    out += "\"name\":";
    json::append_string(out, s.name);
    out += ",\"ok\":";
    out += s.ok ? "true" : "false";
    out += ",\"ms\":" + millis(s.micros) + ",\"detail\":";
    json::append_string(out, s.detail);
    out += "}";
  }
  return out + "]}\n";
}

check_outcome run_checks(const config::settings& s, const check_options& o,
                         const check_resolver& resolve,
                         const check_prober& probe) {
  check_outcome out;
  std::vector<const config::proxy_settings*> chosen;
  for (auto& p : s.proxies)
    if (o.proxy.empty() || p.name == o.proxy)
      chosen.push_back(&p);
  if (chosen.empty()) {
    out.known = false;
    config::proxy_named(s, o.proxy, out.error);
    return out;
  }
  bool several = chosen.size() > 1;
  out.all_ok = true;
  if (several)
    out.json = "[";
  for (auto* at : chosen) {
    auto& proxy = *at;
    auto where = proxy.host + ":" + std::to_string(proxy.port);
    probe_result result;
    std::string error;
    if (auto ip = resolve(proxy.host, error)) {
      probe_request req;
      req.proxy = {*ip, proxy.port};
      req.auth = proxy.auth;
      req.login = proxy.login;
      req.password = proxy.password;
      req.http = proxy.type == config::proxy_type::http;
      req.connect_to = probe_target{o.tcp_target.host, o.tcp_target.port};
      req.stun = probe_target{o.udp_target.host, o.udp_target.port};
      req.budget = o.budget;
      result = probe(req);
    } else {
      result.verdict = probe_verdict::unreachable;
      result.reason = "cannot find the proxy: " + error;
      result.steps.push_back({"look up " + proxy.host, false, 0, error});
    }
    auto json = check_json(result, where, proxy.name);
    if (several) {
      while (!json.empty() && json.back() == '\n')
        json.pop_back();
      out.json += (at == chosen.front() ? "" : ",") + json;
      out.text += (at == chosen.front() ? "" : "\n") + std::string{"Proxy "}
                  + config::proxy_label(proxy) + "\n";
    } else {
      out.json = json;
    }
    out.text += check_text(result, where);
    out.all_ok = out.all_ok && result.verdict == probe_verdict::ok;
  }
  if (several)
    out.json += "]\n";
  return out;
}

} // namespace drover
