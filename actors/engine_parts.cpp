#include "actors/engine_parts.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>

#include "actors/divert_reader.hpp"
#include "actors/flow_manager.hpp"
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
  return out;
}

new_flow_policy not_proxying_policy(const config::settings& settings) {
  return settings.targets.when_not_proxying == config::not_proxying::direct
             ? new_flow_policy::direct
             : new_flow_policy::refuse;
}

platform::guard_result open_capture_guard(const supervisor_ports& ports,
                                          const config::settings& settings,
                                          net::ipv4_address proxy_ip) {
  platform::guard_options go;
  go.targets.names = config::effective_process_names(settings.targets);
  go.skip.proxy = proxy_ip;
  go.skip.multicast = settings.skip.multicast;
  go.skip.extra = settings.skip.extra_skip_cidrs;
  return ports.open_guard(go);
}

parts_result spawn_engine_parts(caf::actor_system& sys,
                                const supervisor_ports& ports,
                                const config::settings& settings,
                                std::shared_ptr<platform::capture_guard> guard,
                                net::ipv4_address proxy_ip,
                                const supervisor_actor& sup,
                                std::function<void()> session_gone) {
  parts_result r;
  auto lg = log::get("supervisor");
  net::endpoint listen_at{net::ipv4_address{0x7f000001}, 0};
  auto fd = platform::invalid_socket;
  if (ports.with_listener) {
    fd = platform::listen_tcp(listen_at, r.error);
    if (fd == platform::invalid_socket) {
      r.failure = failure_class::fatal;
      r.error = "cannot open the local listener: " + r.error;
      return r;
    }
  }
  platform::capture_options opts;
  opts.guard = std::move(guard);
  opts.listener = {net::nat_shape::loopback, listen_at.port};
  opts.skip.proxy = proxy_ip;
  opts.skip.multicast = settings.skip.multicast;
  opts.skip.extra = settings.skip.extra_skip_cidrs;
  auto opened = ports.open_capture(opts);
  if (!opened.session) {
    if (fd != platform::invalid_socket)
      platform::close_socket(fd);
    r.failure = opened.failure == platform::capture_failure::not_permitted
                    ? failure_class::fatal
                    : failure_class::driver_gone;
    r.error = opened.failure == platform::capture_failure::not_permitted
                  ? opened.error
                  : opened.error + ". " + platform::capture_repair_hint();
    return r;
  }
  auto& parts = r.parts;
  // Every part shares the session; when the last lets go, it is destroyed
  // (its queue closed) and the supervisor hears of it, so a start that
  // waits for the queue may go on.
  parts.capture = std::shared_ptr<platform::capture_session>(
      opened.session.get(),
      [session = opened.session,
       gone = std::move(session_gone)](platform::capture_session*) mutable {
        session.reset();
        gone();
      });
  if (ports.capture_shared)
    ports.capture_shared(parts.capture);
  lg->info("capture set up: {}", parts.capture->description());

  auto& proxy = settings.proxy;
  auto& up = parts.upstream;
  up.proxy = {proxy_ip, proxy.port};
  up.auth = proxy.auth;
  up.login = proxy.login;
  up.password = proxy.password;
  up.connect_timeout = proxy.tcp_connect_timeout;
  up.health = caf::actor_cast<caf::actor>(sup);
  flow_manager_config fcfg;
  fcfg.policy = not_proxying_policy(settings); // until the proxy's check
  fcfg.listener = opts.listener;
  fcfg.upstream = up;
  auto fd_limit = platform::open_file_limit();
  fcfg.table.max_flows = net::flows_within_descriptor_budget(
      settings.engine.max_flows, fd_limit);
  if (fcfg.table.max_flows < settings.engine.max_flows)
    lg->warn("the open-file limit ({}) allows {} proxied flows at once, "
             "fewer than engine.max_flows = {}; raise the limit (ulimit "
             "-n, or LimitNOFILE= for a service) to allow more",
             fd_limit, fcfg.table.max_flows, settings.engine.max_flows);
  fcfg.table.tcp_idle = settings.engine.tcp_idle_timeout;
  fcfg.table.udp_idle = settings.engine.udp_idle_timeout;
  parts.flow_manager = sys.spawn(flow_manager, parts.capture, fcfg);
  parts.reader = sys.spawn(divert_reader, parts.capture, parts.flow_manager);
  set_reader(parts.flow_manager, parts.reader);
  if (ports.with_listener)
    parts.listener = sys.middleman().spawn_broker(tcp_listener, fd,
                                                  parts.flow_manager, up);
  parts.scanner
      = sys.spawn(procscan, parts.capture,
                  config::effective_process_names(settings.targets), sup);
  return r;
}

} // namespace drover
