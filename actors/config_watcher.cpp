#include "actors/config_watcher.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/redact.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/file_watch.hpp"
#include "config/password.hpp"

namespace drover {

namespace {

using self_ptr = config_watcher_actor::stateful_pointer<config_watcher_state>;

// The first error's place, and every error, one per line.
config_error to_error(const config::config_file& file,
                      const std::vector<config::diagnostic>& errors) {
  config_error e;
  e.file = file.path().string();
  if (!errors.empty()) {
    e.line = errors.front().line;
    e.column = errors.front().column;
    e.key = errors.front().key;
  }
  for (auto& d : errors)
    e.message += d.to_string() + "\n";
  e.message += "the settings in force stay until the file is fixed";
  return e;
}

void apply_logging(self_ptr self, const config::settings& s) {
  log::set_secrets(config::credentials(s));
  log::set_level(s.ui.level);
  // The files' size and count, at once (the next write rotates by them).
  auto bytes = static_cast<size_t>(s.ui.log_max_mb) << 20;
  auto backups = static_cast<size_t>(s.ui.log_backups);
  log::set_limits(bytes, backups);
  if (auto trace_file = trace::trace_file(); !trace_file.empty())
    trace::set_limits(bytes, backups);
  trace::enable(self->state.trace_flag
                || s.ui.level == config::log_level::trace);
}

// The settings in force changed (`before` -> the file's current): the log
// follows, and the supervisor hears what changed.
void applied(self_ptr self, const config::settings& before) {
  auto& st = self->state;
  auto change = diff(before, st.file.current());
  if (!change.settings)
    return; // written, but nothing changed
  apply_logging(self, st.file.current());
  trace::record(self->name(), "config-changed",
                {{"proxy", change.proxy_changed},
                 {"targets", change.targets_changed},
                 {"rules", change.rules_changed},
                 {"skip", change.skip_changed},
                 {"ui", change.ui_changed},
                 {"engine", change.engine_changed}});
  self->send(st.supervisor, std::move(change));
}

// `config set`: validated, written and applied here, once; the file watch
// then sees the same text and has nothing to do.
std::string replace(self_ptr self, const std::string& incoming) {
  auto& st = self->state;
  auto before = st.file.current();
  // A config that comes back from `config get` carries the placeholder:
  // the password in force stays.
  auto text = config::keep_password(incoming, before.proxies);
  auto report = st.file.replace(text);
  if (report.outcome != config::config_file::status::loaded) {
    std::string answer = "error\n";
    for (auto& d : report.errors)
      answer += d.to_string() + "\n";
    return answer;
  }
  for (auto& w : report.warnings)
    log::get(self->name())->warn("{}", w.to_string());
  applied(self, before);
  return "ok\n";
}

void read_file(self_ptr self) {
  auto& st = self->state;
  auto lg = log::get(self->name());
  auto before = st.file.current();
  auto report = st.file.load();
  using status = config::config_file::status;
  switch (report.outcome) {
    case status::loaded: {
      for (auto& w : report.warnings)
        lg->warn("{}", w.to_string());
      return applied(self, before);
    }
    case status::missing: {
      config_error e;
      e.file = st.file.path().string();
      e.message = "the config file " + e.file
                  + " is gone; the settings in force stay until it is back";
      lg->warn("{}", e.message);
      self->send(st.supervisor, std::move(e));
      return;
    }
    case status::unreadable:
    case status::invalid: {
      auto e = to_error(st.file, report.errors);
      lg->error("the config file has errors:\n{}", e.message);
      trace::record(self->name(), "config-error",
                    {{"file", e.file}, {"line", e.line}, {"column", e.column}});
      self->send(st.supervisor, std::move(e));
      return;
    }
  }
}

} // namespace

config_changed diff(const config::settings& before,
                    const config::settings& after) {
  config_changed c;
  c.proxy_changed = before.proxies != after.proxies;
  c.targets_changed = before.targets != after.targets;
  c.rules_changed = before.rules != after.rules;
  c.skip_changed = before.skip != after.skip;
  c.ui_changed = before.ui != after.ui;
  c.engine_changed = before.engine != after.engine;
  c.engine_parts_changed
      = before.engine.tcp_idle_timeout != after.engine.tcp_idle_timeout
        || before.engine.udp_idle_timeout != after.engine.udp_idle_timeout
        || before.engine.max_flows != after.engine.max_flows;
  c.metrics_changed = before.metrics != after.metrics;
  if (before != after)
    c.settings = std::make_shared<const config::settings>(after);
  return c;
}

config_watcher_actor::behavior_type config_watcher(
    config_watcher_actor::stateful_pointer<config_watcher_state> self,
    config::config_file file, supervisor_actor supervisor, bool trace_flag) {
  report_panics(self);
  auto& st = self->state;
  st.file = std::move(file);
  st.supervisor = std::move(supervisor);
  st.trace_flag = trace_flag;
  auto watch = std::make_shared<platform::file_watch>(st.file.path());
  if (!watch->ok()) {
    log::get(self->name())
        ->warn("{}; changes to the config file apply at the next start",
               watch->error());
  } else {
    st.watcher.stop = [watch] {
      watch->stop();
    };
    auto me = caf::actor_cast<caf::actor_addr>(self);
    st.watcher.thread = std::thread{[watch, me] {
      while (watch->wait()) {
        auto target = caf::actor_cast<caf::actor>(me);
        if (!target)
          return;
        caf::anon_send(target, atom::reload_v);
      }
    }};
  }
  return {
      [=](atom::reload) {
        auto gen = ++self->state.generation;
        self->delayed_send(self, config_watcher_state::quiet_time,
                           atom::internal_v, gen);
      },
      [=](atom::internal, uint64_t gen) {
        if (gen == self->state.generation)
          read_file(self);
      },
      [=](atom::update, const std::string& text) {
        return replace(self, text);
      },
      [=](atom::stop) { self->quit(); },
  };
}

} // namespace drover
