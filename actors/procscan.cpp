#include "actors/procscan.hpp"

#include <algorithm>
#include <cctype>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/process_rules.hpp"
#include "config/rule_match.hpp"

namespace drover {

namespace {

constexpr auto scan_interval = std::chrono::seconds{2};

void scan(procscan_actor::stateful_pointer<procscan_state> self) {
  auto& st = self->state;
  process_set found;
  auto listed = platform::list_processes();
  if (!listed) {
    // Keep what was found last: a scan that cannot read the process list
    // (no descriptor left, say) must not forget the targets.
    log::get(self->name())
        ->warn("cannot list the running processes; the targets found "
               "before stay");
    return;
  }
  platform::process_rules rules{st.rules, *listed};
  std::set<uint32_t> captured; // targets and blocked, this scan
  for (auto& p : *listed) {
    if (p.pid == platform::current_process_id() || !p.served)
      continue;
    int rule = rules.rule_of(p);
    if (rule < 0)
      continue;
    auto action = st.rules[static_cast<size_t>(rule)].action;
    if (action == config::rule_action::direct)
      continue;
    auto label = config::rule_label(st.rules, rule);
    if (action == config::rule_action::proxy)
      found.processes.push_back({p.pid, p.parent_pid, p.name, label});
    captured.insert(p.pid);
    auto [known, fresh] = st.adopted.emplace(
        p.pid, procscan_state::adoption{action, p.created});
    if (!fresh && known->second.action == action
        && known->second.created == p.created)
      continue;
    // Another process under a known ID is taken up as itself (not
    // forgotten first: on Windows the port may have taken it up already,
    // at its first socket, and a new take-up would reset its connections).
    known->second = {action, p.created};
    std::string error;
    bool blocked = action == config::rule_action::block;
    auto done = blocked ? st.capture->block_target(p.pid, p.created, error)
                        : st.capture->add_target(p.pid, p.created, error);
    switch (done) {
      case platform::take_up::taken:
        log::get(self->name())
            ->info("{} {} (pid {}): rule {}",
                   blocked ? "blocking" : "capturing", p.name, p.pid, label);
        trace::record(self->name(), blocked ? "block" : "adopt",
                      {{"pid", p.pid}, {"name", p.name}, {"rule", label}});
        break;
      case platform::take_up::left_alone:
        // Gone before its take-up, or its ID another program's since the
        // scan (or, on Windows, not to be looked at just then): not logged
        // as captured, and its ID is looked at afresh at the next scan.
        log::get(self->name())
            ->debug("{} (pid {}) was not taken up (gone, or its ID "
                    "another program's since the scan); its ID is looked "
                    "at again at the next scan",
                    p.name, p.pid);
        trace::record(self->name(), "left-alone",
                      {{"pid", p.pid}, {"name", p.name}, {"rule", label}});
        st.adopted.erase(p.pid);
        break;
      case platform::take_up::failed:
        log::get(self->name())
            ->warn("cannot {} {} (pid {}): {}", blocked ? "block" : "capture",
                   p.name, p.pid, error);
        break;
    }
  }
  // Forget processes that are gone (a reused PID is looked at again), or
  // that no rule captures any more.
  for (auto it = st.adopted.begin(); it != st.adopted.end();) {
    bool still = captured.count(it->first) > 0;
    if (!still)
      st.capture->forget_target(it->first);
    it = still ? std::next(it) : st.adopted.erase(it);
  }
  bool changed
      = found.processes.size() != st.current.processes.size()
        || !std::equal(found.processes.begin(), found.processes.end(),
                       st.current.processes.begin(),
                       [](const process_info& a, const process_info& b) {
                         return a.pid == b.pid;
                       });
  if (changed) {
    found.generation = st.current.generation + 1;
    st.current = found;
    self->send(st.parent, st.current);
  }
}

} // namespace

procscan_actor::behavior_type
procscan(procscan_actor::stateful_pointer<procscan_state> self,
         platform::capture_session* capture,
         std::vector<config::app_rule> rules, supervisor_actor parent) {
  report_panics(self);
  self->state.capture = capture;
  self->state.rules = std::move(rules);
  self->state.parent = std::move(parent);
  self->send(self, atom::internal_v);
  return {
      [=](atom::scan) { scan(self); },
      [=](atom::internal) {
        scan(self);
        self->delayed_send(self, scan_interval, atom::internal_v);
      },
      [=](atom::update, const config_changed& change) {
        if (change.settings)
          self->state.rules = change.settings->rules;
        scan(self);
      },
      [=](atom::get, atom::processes) { return self->state.current; },
  };
}

} // namespace drover
