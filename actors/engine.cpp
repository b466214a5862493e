#include "actors/engine.hpp"

#include <memory>

#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/config_watcher.hpp"
#include "actors/control_server.hpp"
#include "actors/metrics_server.hpp"
#include "actors/panic.hpp"
#include "actors/platform/files.hpp"
#include "actors/power_monitor.hpp"
#include "actors/supervisor.hpp"

namespace drover {

namespace {

std::vector<engine_service> services_of(engine_setup& setup) {
  std::vector<engine_service> out;
  auto file = setup.file;
  auto trace = setup.trace;
  out.push_back(
      {std::string{config_store_service},
       "changes to the config file apply only after Drover restarts", false,
       [file, trace](caf::actor_system& sys, const supervisor_actor& sup,
                     const config::settings&, std::string&) {
         // Its own thread: it reads and writes the file.
         return caf::actor_cast<caf::actor>(
             sys.spawn<caf::detached>(config_watcher, file, sup, trace));
       }});
  out.push_back(
      {std::string{metrics_service},
       "the metrics endpoint does not answer; restart Drover to have it "
       "back",
       false,
       [](caf::actor_system& sys, const supervisor_actor& sup,
          const config::settings& in_force, std::string&) {
         return caf::actor_cast<caf::actor>(sys.middleman().spawn_broker(
             metrics_server, sup, in_force.metrics.listen));
       }});
  out.push_back({"the power monitor",
                 "the engine no longer pauses when the computer sleeps; if "
                 "connections hang after a wake, choose Stop and Start",
                 false,
                 [](caf::actor_system& sys, const supervisor_actor& sup,
                    const config::settings&, std::string&) {
                   return caf::actor_cast<caf::actor>(
                       sys.spawn(power_monitor, sup));
                 }});
  // The first server takes the socket opened at start; one started again
  // opens a new one (the old one's file went with it).
  auto first = std::make_shared<platform::socket_handle>(setup.control);
  auto config = setup.file.path().string();
  out.push_back(
      {"the control server",
       "the tray and `drover` commands cannot reach the engine; "
       "restart Drover",
       true,
       [first, config](caf::actor_system& sys, const supervisor_actor& sup,
                       const config::settings&,
                       std::string& error) -> caf::actor {
         auto path = platform::control_socket_path();
         auto fd = *first;
         *first = platform::invalid_socket;
         if (fd == platform::invalid_socket) {
           fd = platform::listen_local(path, error);
           if (fd == platform::invalid_socket)
             return {};
           platform::share_control_socket(path);
         }
         return sys.middleman().spawn_broker(control_server, fd, sup,
                                             control_paths{path, config});
       }});
  return out;
}

} // namespace

supervisor_ports supervisor_ports::platform_defaults() {
  supervisor_ports p;
  p.open_guard = platform::open_guard;
  p.open_capture = platform::open_capture;
  p.probe = probe_proxy;
  p.resolve = platform::resolve_ipv4;
  p.has_route = platform::has_route_to;
  p.stats_file = platform::default_state_dir() / "stats.json";
  return p;
}

supervisor_actor start_engine(caf::actor_system& sys, engine_setup setup) {
  auto ports = supervisor_ports::platform_defaults();
  ports.services = services_of(setup);
  auto sup = sys.spawn(supervisor_with_ports, setup.file.current(),
                       std::move(ports));
  if (setup.config_problem)
    caf::anon_send(sup, *setup.config_problem);
  return sup;
}

engine_status start_and_wait(caf::actor_system& sys,
                             const supervisor_actor& sup, size_t proxy) {
  // A listener of its own, gone (and so unsubscribed) when this returns.
  caf::scoped_actor waiter{sys};
  engine_status status;
  status.last.state = engine_state::failed;
  status.last.reason = "no answer from the engine";
  waiter
      ->request(sup, std::chrono::seconds{10}, atom::subscribe_v,
                caf::actor_cast<engine_listener_actor>(waiter))
      .receive([&](const engine_status& s) { status = s; },
               [&](const caf::error& e) {
                 status.last.reason
                     = "the engine did not answer: " + error_sentence(sys, e);
               });
  waiter->send(sup, atom::start_v);
  // Active with several proxies means one of them answered: the program's
  // own must have had its first check too (else its first connections
  // would meet a proxy still being checked).
  auto checked = [&] {
    bool done = true;
    waiter->request(sup, std::chrono::seconds{5}, atom::get_v, atom::status_v)
        .receive(
            [&](const engine_status& s) {
              done = proxy >= s.proxies.size()
                     || s.proxies[proxy].state != "checking";
            },
            [&](const caf::error&) {});
    return done;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  for (bool settled = false; !settled;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      status.last.state = engine_state::failed;
      status.last.reason = "the engine did not become active within 30 s";
      break;
    }
    waiter->receive(
        [&](const engine_event& e) {
          // (Each proxy's check says something: looked at again then.)
          if (e.kind == event_kind::state_changed
              || e.kind == event_kind::reconnect_attempt)
            status.last = e;
          auto s = status.last.state;
          settled = (s == engine_state::active && checked())
                    || s == engine_state::reconnecting
                    || s == engine_state::failed;
        },
        [&](const stats_snapshot&) {}, caf::after(left) >> [] {});
  }
  return status;
}

void stop_engine(caf::actor_system& sys, const supervisor_actor& sup) {
  caf::scoped_actor self{sys};
  self->monitor(sup);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {},
                caf::after(std::chrono::seconds{10}) >> [] {});
}

} // namespace drover
