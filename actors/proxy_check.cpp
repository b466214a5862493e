#include "actors/proxy_check.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace drover {

probe_request proxy_check_request(const config::proxy_settings& proxy,
                                  net::endpoint at) {
  probe_request req;
  req.proxy = at;
  req.auth = proxy.auth;
  req.login = proxy.login;
  req.password = proxy.password;
  req.budget = std::chrono::seconds{2};
  req.try_pipelining = true;
  req.http = proxy.type == config::proxy_type::http;
  return req;
}

proxy_check to_proxy_check(const probe_result& r) {
  proxy_check c;
  c.ok = r.verdict == probe_verdict::ok;
  c.reason = r.reason;
  c.pipelining = r.pipelining;
  switch (r.verdict) {
    case probe_verdict::ok:
      c.failure = failure_class::none;
      break;
    case probe_verdict::tcp_only:
      // Usable: TCP goes through it, the targets' UDP follows the fallback.
      c.ok = true;
      c.failure = failure_class::none;
      c.udp = false;
      c.udp_reason = r.udp_detail;
      c.reason.clear();
      break;
    case probe_verdict::unreachable:
    case probe_verdict::path_failed: // no targets in this check
      c.failure = failure_class::proxy_unreachable;
      break;
    case probe_verdict::auth_rejected:
      c.failure = failure_class::auth_rejected;
      break;
    case probe_verdict::not_socks5:
      c.failure = failure_class::fatal;
      break;
  }
  return c;
}

proxy_check run_proxy_check(const proxy_prober& probe,
                            const name_resolver& resolve,
                            const probe_request& request,
                            const std::string& host) {
  auto known = request.proxy.ip;
  proxy_check c;
  if (known.value != 0) {
    c = to_proxy_check(probe(request));
    c.proxy_ip = known.value;
    if (c.ok)
      return c;
  }
  std::string error;
  auto ip = resolve(host, error);
  if (!ip) {
    c.ok = false;
    c.failure = failure_class::proxy_unreachable;
    c.reason = "cannot find the proxy " + host + ": " + error;
    c.proxy_ip = known.value;
  } else if (*ip != known) {
    c.proxy_ip = ip->value; // moved (or found at last)
  }
  return c;
}

void start_proxy_check(caf::actor_system& sys, const proxy_prober& probe,
                       const name_resolver& resolve,
                       const probe_request& request, const std::string& host,
                       const caf::actor& reply_to, bool own_thread,
                       uint32_t proxy) {
  auto checked = [=] {
    auto c = run_proxy_check(probe, resolve, request, host);
    c.proxy = proxy;
    return c;
  };
  if (!own_thread) {
    caf::anon_send(reply_to, checked());
    return;
  }
  sys.spawn<caf::detached>(
      [=](caf::event_based_actor*) { caf::anon_send(reply_to, checked()); });
}

} // namespace drover
