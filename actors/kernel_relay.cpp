#include "actors/kernel_relay.hpp"

#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"

namespace drover {

namespace {

platform::relay_mode mode_of(new_flow_policy p) {
  switch (p) {
    case new_flow_policy::proxy:
      return platform::relay_mode::proxy;
    case new_flow_policy::direct:
      return platform::relay_mode::direct;
    case new_flow_policy::refuse:
    case new_flow_policy::drop:
      break;
  }
  return platform::relay_mode::refuse;
}

} // namespace

void relay_sink::news(net::stream_news_batch&& batch) {
  caf::anon_send(fm_, std::move(batch));
}

void relay_sink::proxy_failed(const std::string& why) {
  log::get("kernel-relay")->warn("{}", why);
  trace::record("kernel-relay", "failed", {{"reason", why}});
  // The supervisor checks the proxy and, if it is down, reconnects.
  if (health_)
    caf::anon_send(health_, atom::check_v, why, proxy_);
}

kernel_relay_actor::behavior_type
kernel_relay(kernel_relay_actor::stateful_pointer<kernel_relay_state> self,
             platform::socket_handle listener, platform::socket_handle intake,
             upstream_settings upstream, flow_manager_actor fm) {
  report_panics(self);
  auto& st = self->state;
  st.sink = std::make_unique<relay_sink>(std::move(fm), upstream.health,
                                         upstream.proxy_index);
  platform::relay_options opts;
  opts.proxy.proxy = upstream.proxy;
  opts.proxy.auth = upstream.auth;
  opts.proxy.login = upstream.login;
  opts.proxy.password = upstream.password;
  opts.proxy.connect_timeout = upstream.connect_timeout;
  opts.proxy.associate_timeout = upstream.udp_associate_timeout;
  opts.proxy.connect_by_name = upstream.connect_by_name;
  opts.proxy.http = upstream.http;
  opts.spares = upstream.spare_connections;
  opts.channel = static_cast<uint8_t>(upstream.proxy_index);
  opts.mode = platform::relay_mode::refuse; // until the flow-manager says
  opts.udp_mode = platform::relay_mode::refuse;
  std::string error;
  st.relay = platform::start_stream_relay(listener, intake, std::move(opts),
                                          *st.sink, error);
  if (!st.relay) {
    log::get(self->name())->error("the relay cannot start: {}", error);
    self->quit(caf::make_error(ec::driver_lost, "the relay: " + error));
    return {[](atom::stop, uint64_t) {}, [](atom::update, flow_policy) {},
            [](atom::reset) {}, [](atom::update, atom::check, bool) {},
            [](atom::get, atom::status) {
              return false;
            }};
  }
  return {
      [=](atom::stop, uint64_t id) { self->state.relay->close(id); },
      [=](atom::update, flow_policy policy) {
        std::string why;
        if (!self->state.relay->set_mode(mode_of(policy.tcp),
                                         mode_of(policy.udp), why)) {
          // Refusing every connection while the engine says Active would
          // be a silent failure: the supervisor restarts the parts.
          log::get(self->name())->error("{}", why);
          self->quit(caf::make_error(ec::driver_lost, why));
        }
      },
      [=](atom::reset) { self->state.relay->close_all(); },
      [=](atom::update, atom::check, bool reads_pipelined) {
        auto& state = self->state;
        state.relay->set_pipelining(reads_pipelined);
        if (state.pipelining == reads_pipelined)
          return;
        state.pipelining = reads_pipelined;
        log::get(self->name())
            ->info(reads_pipelined
                       ? "the proxy reads a greeting and a request sent "
                         "together: each new connection saves a round trip"
                       : "the proxy reads one message at a time: the "
                         "greeting and the request go one after the other");
      },
      [=](atom::get, atom::status) {
        return self->state.relay->mode() != platform::relay_mode::refuse;
      },
  };
}

} // namespace drover
