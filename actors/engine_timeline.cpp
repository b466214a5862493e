#include "actors/engine_timeline.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"

namespace drover {

void engine_timeline::publish(const std::string& source, engine_event e) {
  e.time = caf::make_timestamp();
  if (e.kind == event_kind::reconnect_attempt)
    ++reconnect_attempts_;
  if (e.kind == event_kind::restart)
    ++restarts_;
  if (e.kind == event_kind::state_changed
      || e.kind == event_kind::reconnect_attempt
      || e.kind == event_kind::restart)
    last_ = e;
  recent_.push_back(e);
  while (recent_.size() > recent_events)
    recent_.pop_front();
  auto level = e.state == engine_state::failed      ? spdlog::level::err
               : e.kind == event_kind::config_error ? spdlog::level::warn
                                                    : spdlog::level::info;
  log::get(source)->log(level, "{}: {}", label(e), e.reason);
  trace::record(source, to_string(e.kind),
                {{"state", to_string(e.state)},
                 {"reason", e.reason},
                 {"failure", to_string(e.failure)},
                 {"attempt", e.attempt}});
  for (auto& l : listeners_)
    caf::anon_send(l, e);
}

void engine_timeline::say(const std::string& source, event_kind kind,
                          std::string text) {
  engine_event e;
  e.kind = kind;
  e.state = last_.state;
  e.reason = std::move(text);
  publish(source, std::move(e));
}

engine_status engine_timeline::status(const stats_snapshot& stats) const {
  engine_status s;
  s.last = last_;
  s.stats = stats;
  s.recent.assign(recent_.begin(), recent_.end());
  s.reconnect_attempts = reconnect_attempts_;
  s.restarts = restarts_;
  return s;
}

void engine_timeline::forget(const caf::actor_addr& who) {
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [&](const engine_listener_actor& l) {
                                    return l.address() == who;
                                  }),
                   listeners_.end());
}

void engine_timeline::send(const stats_snapshot& stats) const {
  for (auto& l : listeners_)
    caf::anon_send(l, stats);
}

} // namespace drover
