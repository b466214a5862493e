#include "actors/supervisor_run.hpp"

#include "actors/log/logging.hpp"
#include "actors/platform/sockets.hpp"

namespace drover {

namespace {

using self_ptr = supervisor_self;

void say(self_ptr self, event_kind kind, std::string text) {
  self->state.timeline.say(self->name(), kind, std::move(text));
}

caf::error not_active() {
  return caf::make_error(ec::unspecified,
                         "the engine did not answer in time: the program was "
                         "not started");
}

// The place of the proxy `drover run --proxy` names ("": the first), or
// nothing with `why` naming the proxies there are.
std::optional<size_t> proxy_of(self_ptr self, const std::string& name,
                               std::string& why) {
  if (name.empty())
    return size_t{0};
  auto found = config::proxy_named(self->state.settings, name, why);
  if (!found)
    why += ": run it with one of them, or without --proxy (the first)";
  return found;
}

// " through NAME" with several proxies, for the Timeline.
std::string through(self_ptr self, size_t proxy) {
  auto& proxies = self->state.settings.proxies;
  return proxies.size() > 1 && proxy < proxies.size()
             ? " through " + config::proxy_label(proxies[proxy])
             : std::string{};
}

struct spawned {
  int64_t pid = -1;
  caf::error err;
};

// Runs `then` once the policy in force has reached the flow-manager and
// the relay: the kernel sends a new target's connections to the relay,
// which hears the policy through the flow-manager, so both must have it
// before the target starts. (The flow-manager answers after the policies
// sent to it before; the relay after those it forwarded.) `failed` when
// either does not answer.
template<class Then, class Failed>
void once_policy_in_force(self_ptr self, size_t proxy, Then then,
                          Failed failed) {
  auto& st = self->state;
  auto fm = st.parts.flow_manager;
  // (The program's proxy's relay: its connections go there.)
  auto relay = proxy < st.parts.relays.size() ? st.parts.relays[proxy]
                                              : kernel_relay_actor{};
  if (!fm || !relay)
    return then();
  self->request(fm, std::chrono::seconds{2}, atom::get_v, atom::stats_v)
      .then(
          [=](stats_snapshot&) mutable {
            self->request(relay, std::chrono::seconds{2}, atom::get_v,
                          atom::status_v)
                .then([=](bool) mutable { then(); },
                      [=](caf::error&) mutable { failed(); });
          },
          [=](caf::error&) mutable { failed(); });
}

// What the program's connections meet while its proxy (`proxy`, of
// several) is not answering, for the caller; empty while it is up.
std::string while_proxy_down(self_ptr self, size_t proxy) {
  auto& st = self->state;
  auto health = st.machine.proxies();
  if (health.size() < 2 || proxy >= health.size()
      || health[proxy].phase == proxy_phase::up)
    return {};
  auto& h = health[proxy];
  auto name = config::proxy_label(st.settings.proxies[proxy]);
  return "Drover cannot use the proxy " + name
         + (h.reason.empty() ? std::string{} : " (" + h.reason + ")")
         + " now: the program's connections "
         + (not_proxying_policy(st.settings, proxy) == new_flow_policy::direct
                ? "go direct"
                : "are refused")
         + " until it answers\n";
}

// Whether `drover run` may put a process in place now: empty, with `note`
// saying what its connections meet while its proxy (`proxy`) is not
// answering, or the sentence that says why not and what to do.
std::string joinable_now(self_ptr self, size_t proxy, std::string& note) {
  auto& st = self->state;
  const auto& last = st.timeline.last();
  switch (st.machine.phase()) {
    case engine_phase::active:
      note = while_proxy_down(self, proxy);
      return st.session.get() ? ""
                              : "Drover is restarting: run this again "
                                "in a moment";
    case engine_phase::checking:
    case engine_phase::reconnecting:
      note = std::string{"Drover is not proxying yet ("} + last.reason
             + "): the program's connections "
             + (not_proxying_policy(st.settings, proxy)
                        == new_flow_policy::direct
                    ? "go direct"
                    : "are refused")
             + " until the proxy answers\n";
      return st.session.get() ? ""
                              : "Drover is restarting: run this again "
                                "in a moment";
    case engine_phase::failed_running:
    case engine_phase::failed_holding:
      return "Drover has failed (" + last.reason
             + "): choose Retry in the tray, or run drover retry, then run "
               "this again";
    case engine_phase::idle:
    case engine_phase::waiting_for_old_session:
      return "Drover is stopped: choose Start proxying in the tray, or run "
             "drover start, then run this again";
    case engine_phase::paused_running:
    case engine_phase::paused_down:
    case engine_phase::waking_running:
    case engine_phase::waking_down:
      return "the computer is going to sleep or waking up: run this again "
             "in a moment";
    case engine_phase::starting:
    case engine_phase::reopen_wait:
    case engine_phase::stopping:
      break;
  }
  return st.machine.then() == after_stop::idle
             ? "Drover is stopping: start it again (Start proxying in the "
               "tray, or drover start), then run this again"
             : "Drover is restarting: run this again in a moment";
}

// `drover run` beside the running engine: `pid` becomes a target of the
// running session; "" or why not.
std::string join_target(self_ptr self, uint32_t pid, uint32_t caller,
                        uint32_t user, size_t proxy) {
  auto* session = self->state.session.get();
  if (!session)
    return "Drover is restarting: run this again in a moment";
  std::string error;
  if (!session->join_target(pid, caller, user, static_cast<uint32_t>(proxy),
                            error)) {
    log::get(self->name())
        ->warn("drover run: did not put process {} in place for user {}: {}",
               pid, user, error);
    return error;
  }
  say(self, event_kind::info,
      "put process " + std::to_string(pid)
          + (user == platform::unknown_control_user
                 ? std::string{}
                 : " (user " + std::to_string(user) + ")")
          + " in place as a target, for drover run" + through(self, proxy));
  return {};
}

// `drover run`: starts argv as a target of the running session.
spawned spawn_target(self_ptr self, const std::vector<std::string>& argv,
                     size_t proxy) {
  auto& st = self->state;
  // Active, or about to be: a program started while the proxy does not
  // answer yet is captured, its connections refused until it does.
  auto phase = st.machine.phase();
  if ((phase != engine_phase::active && phase != engine_phase::checking
       && phase != engine_phase::reconnecting)
      || !st.session.get())
    return {-1, caf::make_error(ec::unspecified,
                                std::string{"the engine is "}
                                    + to_string(st.machine.state()) + " ("
                                    + st.timeline.last().reason
                                    + "): the program was not started")};
  std::string error;
  auto pid = start_target(st.session.get(), argv, static_cast<uint32_t>(proxy),
                          error);
  if (pid < 0)
    return {-1, caf::make_error(ec::unspecified, error)};
  st.spawned_target = true;
  say(self, event_kind::info,
      "started " + argv.front() + " (pid " + std::to_string(pid)
          + ") as a target" + through(self, proxy));
  return {static_cast<int64_t>(pid), {}};
}

} // namespace

caf::result<int64_t> start_program(self_ptr self, std::vector<std::string> argv,
                                   const std::string& proxy_name) {
  std::string why;
  auto proxy = proxy_of(self, proxy_name, why);
  if (!proxy)
    return caf::make_error(ec::unspecified, why);
  auto rp = self->make_response_promise<int64_t>();
  once_policy_in_force(
      self, *proxy,
      [=]() mutable {
        auto r = spawn_target(self, argv, *proxy);
        if (r.err)
          rp.deliver(r.err);
        else
          rp.deliver(r.pid);
      },
      [=]() mutable { rp.deliver(not_active()); });
  return rp;
}

caf::result<std::string> join_program(self_ptr self, uint32_t pid,
                                      uint32_t caller, uint32_t user,
                                      const std::string& proxy_name) {
  std::string why;
  auto proxy = proxy_of(self, proxy_name, why);
  if (!proxy)
    return caf::make_error(ec::unspecified, why);
  std::string note;
  if (auto refused = joinable_now(self, *proxy, note); !refused.empty())
    return caf::make_error(ec::unspecified, refused);
  auto rp = self->make_response_promise<std::string>();
  once_policy_in_force(
      self, *proxy,
      [=]() mutable {
        auto error = join_target(self, pid, caller, user, *proxy);
        if (!error.empty())
          rp.deliver(caf::make_error(ec::unspecified, error));
        else
          rp.deliver(note);
      },
      [=]() mutable {
        rp.deliver(caf::make_error(ec::unspecified,
                                   "the engine did not answer in time: run "
                                   "this again in a moment"));
      });
  return rp;
}

} // namespace drover
