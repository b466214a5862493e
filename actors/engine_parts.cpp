#include "actors/engine_parts.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>

#include "actors/divert_reader.hpp"
#include "actors/fault_hooks.hpp"
#include "actors/flow_manager.hpp"
#include "actors/guard_watch.hpp"
#include "actors/kernel_relay.hpp"
#include "actors/log/logging.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/sockets.hpp"
#include "actors/procscan.hpp"
#include "actors/socks_session.hpp"
#include "actors/supervisor.hpp"

namespace drover {

std::vector<caf::actor> engine_parts::actors() const {
  std::vector<caf::actor> out;
  for (auto& a : {caf::actor_cast<caf::actor>(reader),
                  caf::actor_cast<caf::actor>(flow_manager),
                  caf::actor_cast<caf::actor>(scanner), listener})
    if (a)
      out.push_back(a);
  for (size_t i = 1; i < relays.size(); ++i) // the first is the listener
    if (relays[i])
      out.push_back(caf::actor_cast<caf::actor>(relays[i]));
  return out;
}

new_flow_policy not_proxying_policy(const config::settings& settings,
                                    size_t proxy) {
  auto fallback = config::strictest_fallback(settings, proxy);
  return fallback == config::not_proxying::direct ? new_flow_policy::direct
                                                  : new_flow_policy::refuse;
}

std::vector<proxy_ref> proxy_refs(const config::settings& settings) {
  std::vector<proxy_ref> out;
  for (size_t i = 0; i < settings.proxies.size(); ++i) {
    auto& p = settings.proxies[i];
    out.push_back(
        proxy_ref{p.name, p.host, p.port,
                  not_proxying_policy(settings, i) == new_flow_policy::direct});
  }
  return out;
}

namespace {

// The failure class of a capture that cannot be set up, and its sentence:
// missing privileges are fatal; anything else is the driver (reinstall).
failure_class failure_of(platform::capture_failure f, std::string& error) {
  if (f == platform::capture_failure::not_permitted)
    return failure_class::fatal;
  error += ". " + platform::capture_repair_hint();
  return failure_class::driver_gone;
}

} // namespace

// The proxies' addresses, never captured (the first, and the others).
void exclude_proxies(net::capture::exclusions& skip,
                     const std::vector<net::ipv4_address>& proxy_ips) {
  skip.proxy = proxy_ips.empty() ? net::ipv4_address{0} : proxy_ips.front();
  skip.other_proxies.assign(proxy_ips.begin() + (proxy_ips.empty() ? 0 : 1),
                            proxy_ips.end());
}

guard_result
open_capture_guard(const supervisor_ports& ports,
                   const config::settings& settings,
                   const std::vector<net::ipv4_address>& proxy_ips) {
  platform::guard_options go;
  go.targets.rules = settings.rules;
  go.targets.fallback = settings.targets.when_not_proxying;
  go.targets.proxy_names = config::proxy_names(settings);
  exclude_proxies(go.skip, proxy_ips);
  go.skip.multicast = settings.skip.multicast;
  go.skip.extra = settings.skip.extra_skip_cidrs;
  auto g = ports.open_guard(go);
  guard_result r;
  r.guard = std::move(g.guard);
  r.error = std::move(g.error);
  if (!r.guard)
    r.failure = failure_of(g.failure, r.error);
  return r;
}

guard_result guard_hold::open(caf::local_actor* self,
                              const supervisor_actor& parent,
                              const supervisor_ports& ports,
                              const config::settings& settings,
                              const std::vector<net::ipv4_address>& proxy_ips) {
  if (guard)
    return {guard, failure_class::none, {}};
  auto g = open_capture_guard(ports, settings, proxy_ips);
  if (!g.guard)
    return g;
  guard = g.guard;
  log::get("supervisor")
      ->info("capture guard in place: {}", guard->description());
  watch(self, parent, ports);
  return g;
}

void guard_hold::watch(caf::local_actor* self, const supervisor_actor& parent,
                       const supervisor_ports& ports) {
  watchdog = spawn_guard_watch(self, guard, parent, ports.guard_check_interval,
                               ports.watch_on_own_thread);
}

std::string guard_hold::release(caf::local_actor* self) {
  return release_guard_and_watch(self, guard, watchdog);
}

void guard_hold::add_counters(stats_snapshot& s) const {
  if (!guard)
    return;
  auto c = guard->counters();
  s.packets_fenced = c.packets_fenced;
  s.connections_reset += c.connections_reset;
  s.ipv6_dropped += c.ipv6_refused; // (Linux: refused before any packet)
}

void watch_parts(caf::local_actor* self, engine_parts& parts) {
  for (auto& a : parts.actors()) {
    self->monitor(a);
    parts.up.push_back(a.address());
  }
}

namespace {

// A relay's two sockets on loopback: the listener the kernel redirects
// TCP to, and (unless UDP is queued) the intake it hands UDP to.
struct relay_sockets {
  net::endpoint at{net::ipv4_address{0x7f000001}, 0}; // the listener's
  uint16_t intake_port = 0; // the intake's (not always the listener's)
  platform::socket_handle listener = platform::invalid_socket;
  platform::socket_handle intake = platform::invalid_socket;
  void close() {
    for (auto s : {listener, intake})
      if (s != platform::invalid_socket)
        platform::close_socket(s);
    listener = intake = platform::invalid_socket;
  }
};

bool open_relay_sockets(relay_sockets& out, std::string& error) {
  out.listener = platform::listen_for_redirects(out.at, error);
  if (out.listener == platform::invalid_socket) {
    error = "cannot open the local listener: " + error;
    return false;
  }
  if (!udp_queue_forced()) {
    net::endpoint intake_at = out.at;
    std::string why;
    out.intake = platform::open_datagram_intake(intake_at, why);
    if (out.intake == platform::invalid_socket)
      log::get("supervisor")->warn("the targets' UDP is queued: {}", why);
    else
      out.intake_port = intake_at.port;
  }
  return true;
}

} // namespace

parts_result spawn_engine_parts(caf::actor_system& sys,
                                const supervisor_ports& ports,
                                const config::settings& settings,
                                std::shared_ptr<platform::capture_guard> guard,
                                const std::vector<net::ipv4_address>& proxy_ips,
                                const supervisor_actor& sup) {
  parts_result r;
  auto lg = log::get("supervisor");
  // One relay per proxy: the kernel sends each proxy's targets to its own.
  std::vector<relay_sockets> sockets(ports.with_listener ? proxy_ips.size()
                                                         : size_t{1});
  auto close_all = [&] {
    for (auto& s : sockets)
      s.close();
  };
  if (ports.with_listener)
    for (auto& s : sockets)
      if (!open_relay_sockets(s, r.error)) {
        close_all();
        r.failure = failure_class::fatal;
        return r;
      }
  auto& first = sockets.front();
  platform::capture_options opts;
  opts.guard = std::move(guard);
  opts.listener = {net::nat_shape::loopback, first.at.port};
  exclude_proxies(opts.skip, proxy_ips);
  opts.skip.multicast = settings.skip.multicast;
  opts.skip.extra = settings.skip.extra_skip_cidrs;
  opts.kernel_redirect = ports.with_listener && !tcp_queue_forced();
  // Every relay takes UDP from the kernel, or none does (then it is
  // queued, and each datagram meets its own proxy in the flow-manager).
  bool all_intakes = std::all_of(sockets.begin(), sockets.end(),
                                 [](auto& s) { return s.intake_port != 0; });
  opts.udp_intake_port = all_intakes ? first.intake_port : uint16_t{0};
  for (size_t i = 1; i < sockets.size(); ++i)
    opts.more_proxies.emplace_back(sockets[i].at.port, sockets[i].intake_port);
  auto opened = ports.open_capture(opts);
  if (opened.session && !opened.session->redirects_udp())
    for (auto& s : sockets)
      if (s.intake != platform::invalid_socket) {
        platform::close_socket(s.intake);
        s.intake = platform::invalid_socket;
      }
  if (!opened.session) {
    close_all();
    r.error = opened.error;
    r.failure = failure_of(opened.failure, r.error);
    return r;
  }
  auto& parts = r.parts;
  r.session = std::move(opened.session);
  auto& session = *r.session;
  lg->info("capture set up: {}", session.description());

  for (size_t i = 0; i < proxy_ips.size(); ++i) {
    auto up = upstream_of(settings.proxies.at(i), proxy_ips[i]);
    up.health = caf::actor_cast<caf::actor>(sup);
    up.proxy_index = static_cast<uint32_t>(i);
    parts.upstreams.push_back(std::move(up));
  }
  flow_manager_config fcfg;
  fcfg.policy = flow_policy::both(not_proxying_policy(settings)); // until
                                                                  // checked
  for (size_t i = 0; i < proxy_ips.size(); ++i)
    fcfg.proxy_policies.push_back(
        flow_policy::both(not_proxying_policy(settings, i)));
  fcfg.listener = opts.listener;
  fcfg.upstreams = parts.upstreams;
  auto fd_limit = platform::open_file_limit();
  bool relayed = session.redirects_tcp();
  fcfg.table.max_flows = net::flows_within_descriptor_budget(
      settings.engine.max_flows, fd_limit,
      relayed ? net::descriptors_per_relayed_flow
              : net::descriptors_per_tcp_flow);
  if (fcfg.table.max_flows < settings.engine.max_flows)
    lg->warn("the open-file limit ({}) allows {} proxied flows at once, "
             "fewer than engine.max_flows = {}; raise the limit (ulimit "
             "-n, or LimitNOFILE= for a service) to allow more",
             fd_limit, fcfg.table.max_flows, settings.engine.max_flows);
  fcfg.table.tcp_idle = settings.engine.tcp_idle_timeout;
  fcfg.table.udp_idle = settings.engine.udp_idle_timeout;
  fcfg.parent = sup;
  parts.flow_manager = sys.spawn(flow_manager, &session, fcfg);
  parts.reader = sys.spawn(divert_reader, &session.port(), parts.flow_manager);
  set_reader(parts.flow_manager, parts.reader);
  if (ports.with_listener && relayed) {
    for (size_t i = 0; i < sockets.size(); ++i) {
      auto relay
          = sys.spawn(kernel_relay, sockets[i].listener, sockets[i].intake,
                      parts.upstreams[i], parts.flow_manager);
      caf::anon_send(parts.flow_manager, atom::internal_v, relay,
                     static_cast<uint32_t>(i));
      parts.relays.push_back(relay);
    }
    parts.listener = caf::actor_cast<caf::actor>(parts.relays.front());
  } else if (ports.with_listener) {
    // The engine rewrites TCP itself: one listener, each flow's proxy
    // chosen by the session (the other proxies' sockets are not needed).
    for (size_t i = 1; i < sockets.size(); ++i)
      sockets[i].close();
    parts.listener = sys.middleman().spawn_broker(
        tcp_listener, first.listener, parts.flow_manager, parts.upstreams);
  }
  parts.scanner = sys.spawn(procscan, &session, settings.rules, sup);
  return r;
}

void apply_targets(const engine_parts& parts, platform::capture_guard* guard,
                   const config::settings& settings, engine_state shown,
                   const std::vector<bool>& up) {
  platform::target_selection t;
  t.rules = settings.rules;
  t.fallback = settings.targets.when_not_proxying;
  t.proxy_names = config::proxy_names(settings);
  std::string error;
  if (guard && !guard->set_targets(t, error))
    log::get("supervisor")->error("new targets: {}", error);
  if (parts.flow_manager && settings.proxies.size() == 1
      && shown != engine_state::active && shown != engine_state::paused)
    caf::anon_send(parts.flow_manager, atom::update_v,
                   flow_policy::both(not_proxying_policy(settings)));
  if (parts.flow_manager && settings.proxies.size() > 1
      && shown != engine_state::paused)
    for (uint32_t i = 0; i < settings.proxies.size(); ++i)
      if (i >= up.size() || !up[i])
        caf::anon_send(parts.flow_manager, atom::update_v, i,
                       flow_policy::both(not_proxying_policy(settings, i)));
  if (parts.scanner) {
    config_changed rules;
    rules.settings = std::make_shared<const config::settings>(settings);
    rules.targets_changed = true;
    caf::anon_send(parts.scanner, atom::update_v, std::move(rules));
  }
}

long start_target(platform::capture_session* session,
                  const std::vector<std::string>& argv, uint32_t proxy,
                  std::string& error) {
  if (!session || argv.empty()) {
    error = "the engine is not active";
    return -1;
  }
  auto pid = session->spawn_target(argv, proxy, error);
  if (pid < 0)
    error = "cannot start " + argv.front() + ": " + error;
  return pid;
}

upstream_settings upstream_of(const config::proxy_settings& proxy,
                              net::ipv4_address proxy_ip) {
  upstream_settings up;
  up.proxy = {proxy_ip, proxy.port};
  up.auth = proxy.auth;
  up.login = proxy.login;
  up.password = proxy.password;
  up.connect_timeout = proxy.tcp_connect_timeout;
  up.udp_associate_timeout = proxy.udp_associate_timeout;
  up.connect_by_name = proxy.connect_by_name;
  up.spare_connections = proxy.spare_connections;
  up.http = proxy.type == config::proxy_type::http;
  return up;
}

recovery_timing timing_of(const config::engine_settings& e) {
  recovery_timing t;
  t.backoff_initial = e.reconnect_backoff_initial;
  t.backoff_max = e.reconnect_backoff_max;
  t.backoff_total = e.reconnect_total_cap;
  return t;
}

config_change config_change_of(const config_changed& c,
                               const config::settings& now_in_force) {
  config_change change;
  change.proxy = c.proxy_changed;
  change.targets = c.targets_changed;
  change.rules = c.rules_changed;
  change.ui = c.ui_changed;
  change.engine = c.engine_changed;
  change.engine_parts = c.engine_parts_changed;
  change.skip = c.skip_changed;
  change.proxies = proxy_refs(now_in_force);
  change.timing = timing_of(now_in_force.engine);
  return change;
}

} // namespace drover
