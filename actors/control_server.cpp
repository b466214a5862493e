#include "actors/control_server.hpp"

#include "actors/control_render.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/system_messages.hpp>

#include "actors/log/json.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"
#include "config/config_file.hpp"
#include "config/parse.hpp"
#include "config/password.hpp"
#include "net/control_protocol.hpp"

namespace drover {

namespace {

namespace control = net::control;
using caf::io::connection_handle;

// Names the process behind each flow: the one the capture saw send it
// (Windows), else its source socket's owner where the OS tells; and the
// rule that made it a target (procscan's word, `targets`).
void attribute(std::vector<flow_descriptor>& flows,
               const std::vector<process_info>& targets) {
  std::map<std::pair<uint8_t, uint32_t>, std::vector<uint16_t>> wanted;
  for (auto& f : flows)
    if (f.pid == 0)
      wanted[{f.protocol, f.src_ip}].push_back(f.src_port);
    else if (auto id = platform::identify_process(f.pid))
      f.process = id->image;
  for (auto& [key, ports] : wanted) {
    auto owners = platform::socket_owners(key.first, key.second, ports);
    for (auto& f : flows)
      if (f.pid == 0 && f.protocol == key.first && f.src_ip == key.second)
        if (auto it = owners.find(f.src_port); it != owners.end()) {
          f.pid = it->second.pid;
          f.process = it->second.name;
        }
  }
  for (auto& f : flows)
    for (auto& t : targets)
      if (f.pid != 0 && t.pid == f.pid)
        f.rule = t.rule;
}

// The config file's text, or the defaults when there is none yet; read
// with the rights of the user it belongs to.
std::string config_text(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    return config::serialize(config::settings{});
  std::string error;
  auto text = platform::read_file(path, config::max_file_bytes,
                                  platform::on_behalf::invoking_user, error);
  if (!text)
    return "error\ncannot read " + path + ": " + error + "\n";
  return config::hide_password(*text); // never to a client
}

// The largest config text `config set` takes.
constexpr size_t max_config_bytes = config::max_file_bytes;

// Limits: nobody on the machine can make the engine (root) hold more than
// a bounded number of connections, wait forever, or buffer without end.
constexpr size_t max_clients_per_user = 16; // one user cannot crowd out
constexpr size_t max_clients = 256;         // the tray, root or the rest
constexpr auto idle_limit = std::chrono::seconds{10}; // for a whole command
constexpr size_t max_follow_backlog = 256 * 1024;     // unread by a follower

// A warning said at most once per 10 s, with how many were held back:
// a caller that keeps knocking cannot fill the log.
class throttled_warning {
public:
  void say(const std::string& text) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds{10}) {
      ++held_back_;
      return;
    }
    log::get("control")->warn("{}{}", text,
                              held_back_ > 0
                                  ? " (and " + std::to_string(held_back_)
                                        + " more like it since the last one)"
                                  : std::string{});
    last_ = now;
    held_back_ = 0;
  }

private:
  std::chrono::steady_clock::time_point last_{};
  uint64_t held_back_ = 0;
};

struct control_state {
  std::map<connection_handle, std::string> pending; // until a whole command
  struct client {
    // A descriptor (and so a handle) is reused: a sweep meant for an
    // earlier connection must not end a new one.
    uint64_t serial = 0;
    uint32_t user = 0;    // the peer's user ID, for its share
    uint32_t process = 0; // the peer's process (0: unknown), for `run`
  };
  std::map<connection_handle, client> open;
  std::map<uint32_t, size_t> open_per_user;
  uint64_t next_serial = 0;
  // Connections whose client may change things (the settings, quit, the
  // trace log); the others may look and Start/Stop/Retry.
  std::set<connection_handle> configurers;
  // Connections that follow the engine: each has a listener actor of its
  // own that the supervisor sends events to.
  struct follower {
    caf::actor listener;
    bool json = false;
    uint64_t serial = 0; // its connection's
  };
  std::map<int64_t, follower> followers;
  bool heartbeat_due = false; // a heartbeat is scheduled
  // File and /proc work (a config read, an fsync, the flows' owners): one
  // thread for all of it, never one per request, and never the I/O loop
  // every relayed connection shares.
  caf::actor worker;
  throttled_warning refused;
};

using control_ptr = std::shared_ptr<control_state>;

// Whether `hdl` is still the connection that had `serial`. An answer comes
// back from the supervisor or the worker later; its client may have left
// meanwhile, and its descriptor (so its handle) gone to a newer client,
// who must not get it (nor be closed by it).
bool still_open(const control_ptr& st, connection_handle hdl, uint64_t serial) {
  auto it = st->open.find(hdl);
  return it != st->open.end() && it->second.serial == serial;
}

} // namespace

// The control worker's job: a function run on its thread (local only).
struct control_job {
  std::function<std::string()> work;
};

} // namespace drover

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(drover::control_job)

namespace drover {

namespace {

// Runs `work` on the worker's thread and hands its text to `done`.
template<class Work, class Done>
void on_worker(caf::io::broker* self, const control_ptr& st, Work work,
               Done done) {
  if (!st->worker)
    st->worker = self->spawn<caf::detached + caf::linked>(
        [](caf::event_based_actor*) -> caf::behavior {
          return {[](control_job& job) {
            return job.work();
          }};
        });
  self->request(st->worker, std::chrono::seconds{10},
                control_job{std::function<std::string()>{std::move(work)}})
      .then([=](std::string& text) { done(text); },
            [=](caf::error& e) {
              done("error\nthe engine did not answer: "
                   + error_sentence(self->system(), e) + "\n");
            });
}

void forget(caf::io::broker* self, const control_ptr& st,
            connection_handle hdl) {
  st->pending.erase(hdl);
  if (auto it = st->open.find(hdl); it != st->open.end()) {
    if (--st->open_per_user[it->second.user] == 0)
      st->open_per_user.erase(it->second.user);
    st->open.erase(it);
  }
  st->configurers.erase(hdl);
  auto it = st->followers.find(hdl.id());
  if (it != st->followers.end()) {
    self->send_exit(it->second.listener, caf::exit_reason::user_shutdown);
    st->followers.erase(it);
  }
}

} // namespace

caf::behavior control_server(caf::io::broker* self, platform::socket_handle fd,
                             supervisor_actor sup, control_paths paths) {
  report_panics(self);
  self->add_doorman(fd);
  self->attach_functor([path = paths.socket] { std::remove(path.c_str()); });
  auto st = std::make_shared<control_state>();
  auto close = [=](connection_handle hdl) {
    self->close(hdl);
    forget(self, st, hdl);
  };
  auto follow = [=](connection_handle hdl, uint64_t serial, bool json) {
    auto server = caf::actor_cast<caf::actor>(self);
    auto id = hdl.id();
    auto listener = self->spawn<caf::linked>(
        [=](caf::event_based_actor* f) -> caf::behavior {
          return {
              [=](const engine_event& e) {
                f->send(server, atom::update_v, id, serial,
                        render_event(e, json));
              },
              [=](const stats_snapshot& s) {
                if (json)
                  f->send(server, atom::update_v, id, serial, render_stats(s));
              },
          };
        });
    st->followers[id] = {listener, json, serial};
    if (!st->heartbeat_due) {
      st->heartbeat_due = true;
      self->delayed_send(
          self, std::chrono::seconds{net::control::follow_heartbeat_seconds},
          atom::heartbeat_v);
    }
    self->request(sup, std::chrono::seconds{5}, atom::subscribe_v,
                  caf::actor_cast<engine_listener_actor>(listener))
        .then(
            [=](const engine_status& status) {
              if (!still_open(st, hdl, serial))
                return;
              std::string lines;
              for (auto& e : status.recent)
                lines += render_event(e, json);
              self->write(hdl, lines.size(), lines.data());
              self->flush(hdl);
            },
            [=](caf::error&) {
              if (still_open(st, hdl, serial))
                close(hdl);
            });
  };
  auto to_follower = [=](int64_t id, uint64_t serial, const std::string& line) {
    auto it = st->followers.find(id);
    if (it == st->followers.end() || it->second.serial != serial)
      return; // the client left (a newer one may have its handle)
    auto hdl = connection_handle::from_int(id);
    // What the socket did not take yet waits in the broker's buffer: a
    // follower that stopped reading is let go before it costs more than
    // max_follow_backlog. Cut, not closed: a close waits for the buffer to
    // drain, which a peer that never reads never lets happen.
    if (self->wr_buf(hdl).size() + line.size() > max_follow_backlog) {
      st->refused.say("let go of a follower that stopped reading");
      platform::cut_connection(static_cast<platform::socket_handle>(id));
      return close(hdl);
    }
    self->write(hdl, line.size(), line.data());
    self->flush(hdl);
  };
  return {
      [=](atom::update, int64_t id, uint64_t serial, const std::string& line) {
        to_follower(id, serial, line);
      },
      [=](atom::heartbeat) {
        // Every follower hears from this loop at least this often (see
        // net::control::follow_heartbeat_seconds), events or not.
        st->heartbeat_due = false;
        if (st->followers.empty())
          return;
        // A copy: one that stopped reading is let go on the way.
        std::vector<std::tuple<int64_t, uint64_t, bool>> now;
        for (auto& [id, f] : st->followers)
          now.emplace_back(id, f.serial, f.json);
        for (auto& [id, serial, json] : now)
          to_follower(id, serial,
                      std::string{json ? net::control::follow_heartbeat_json
                                       : net::control::follow_heartbeat_text}
                          + "\n");
        st->heartbeat_due = true;
        self->delayed_send(
            self, std::chrono::seconds{net::control::follow_heartbeat_seconds},
            atom::heartbeat_v);
      },
      [=](const caf::io::new_connection_msg& m) {
        if (platform::local_clients_need_admission
            && !platform::local_client_admitted(self->remote_port(m.handle))) {
          st->refused.say("refused a control connection that did not come "
                          "through the control pipe");
          self->close(m.handle);
          return;
        }
        auto peer = static_cast<platform::socket_handle>(m.handle.id());
        auto user = platform::control_client_user(peer);
        auto& theirs = st->open_per_user[user];
        if (theirs >= max_clients_per_user || st->open.size() >= max_clients) {
          st->refused.say(
              "refused a control connection from user " + std::to_string(user)
              + ": "
              + (theirs >= max_clients_per_user
                     ? std::to_string(max_clients_per_user) + " of theirs"
                     : std::to_string(max_clients))
              + " are open");
          if (theirs == 0)
            st->open_per_user.erase(user);
          self->close(m.handle);
          return;
        }
        ++theirs;
        auto serial = ++st->next_serial;
        st->open[m.handle]
            = {serial, user, platform::control_client_process(peer)};
        st->pending[m.handle];
        if (platform::control_client_may_configure(peer))
          st->configurers.insert(m.handle);
        self->configure_read(m.handle, caf::io::receive_policy::at_most(4096));
        self->delayed_send(self, idle_limit, atom::sweep_v, m.handle.id(),
                           serial);
      },
      [=](atom::sweep, int64_t id, uint64_t serial) {
        // A whole command (and a config's bytes) within idle_limit, or out.
        auto hdl = connection_handle::from_int(id);
        auto it = st->open.find(hdl);
        if (it != st->open.end() && it->second.serial == serial
            && st->pending.count(hdl) > 0 && st->followers.count(id) == 0)
          close(hdl);
      },
      [=](const caf::io::new_data_msg& m) {
        if (st->pending.count(m.handle) == 0)
          return; // answered already, or a follower talking: ignored
        auto& buf = st->pending[m.handle];
        buf.append(m.buf.begin(), m.buf.end());
        auto hdl = m.handle;
        auto client = st->open.find(hdl); // made with `pending`
        uint64_t serial = client != st->open.end() ? client->second.serial : 0;
        auto answer = [=](const std::string& text) {
          if (!still_open(st, hdl, serial))
            return; // its client left: nobody to tell (see still_open)
          self->write(hdl, text.size(), text.data());
          self->flush(hdl);
          close(hdl);
        };
        auto req = control::read_request(buf, max_config_bytes);
        // The caller's rights, as soon as the command line is whole: a
        // caller who may not change things is not read further.
        if (req.line_complete && control::changes_things(req.kind)
            && st->configurers.count(hdl) == 0) {
          st->refused.say("refused \"" + control::printable(buf, 16)
                          + "\" from a caller who may only look");
          st->pending.erase(hdl); // `buf` with it
          return answer("error\nrefused: only root and the user Drover runs "
                        "for may change its settings, quit it or trace it\n");
        }
        switch (req.result) {
          case control::request::state::need_more:
            return;
          case control::request::state::refused:
            st->pending.erase(hdl);
            if (req.error.empty())
              return close(hdl);
            return answer(req.error);
          case control::request::state::complete:
            st->pending.erase(hdl);
            break;
        }
        using control::command_kind;
        switch (req.kind) {
          case command_kind::config_set:
            // The config store validates, writes and applies it.
            self->request(sup, std::chrono::seconds{10}, atom::update_v,
                          std::move(req.body))
                .then([=](const std::string& said) { answer(said); },
                      [=](caf::error& e) {
                        answer("error\nthe engine did not answer: "
                               + error_sentence(self->system(), e) + "\n");
                      });
            return;
          case command_kind::config_get:
            return on_worker(
                self, st, [=] { return config_text(paths.config); }, answer);
          case command_kind::quit:
            // The process's main thread stops the engine cleanly (capture
            // released, sessions closed) and exits.
            answer("ok\n");
            platform::request_termination();
            return;
          case command_kind::trace_on:
          case command_kind::trace_off:
            trace::enable(req.kind == command_kind::trace_on);
            return answer("ok\n");
          // Commands for the engine: what the tray's menu does.
          case command_kind::start:
            self->send(sup, atom::start_v);
            return answer("ok\n");
          case command_kind::stop:
            self->send(sup, atom::stop_v);
            return answer("ok\n");
          case command_kind::retry:
            self->send(sup, atom::retry_v);
            return answer("ok\n");
          case command_kind::follow:
          case command_kind::follow_json:
            return follow(hdl, serial, req.kind == command_kind::follow_json);
          case command_kind::fault:
            self->request(sup, std::chrono::seconds{5}, atom::fault_v,
                          req.argument)
                .then([=](const std::string& done) { answer(done + "\n"); },
                      [=](caf::error& e) {
                        answer("the engine did not answer: "
                               + error_sentence(self->system(), e) + "\n");
                      });
            return;
          case command_kind::run: {
            // Who asks is the kernel's word, never the request's.
            auto& who = st->open[hdl];
            if (who.process == 0)
              return answer("error\nthis Drover cannot tell which process "
                            "is asking, so it puts none in place\n");
            self->request(sup, std::chrono::seconds{10}, atom::spawn_v, req.pid,
                          who.process, who.user, req.argument)
                .then([=](const std::string& note) { answer("ok\n" + note); },
                      [=](caf::error& e) {
                        answer("error\n" + error_sentence(self->system(), e)
                               + "\n");
                      });
            return;
          }
          case command_kind::check:
            // The engine has the passwords (`config get` shows none).
            self->request(sup, std::chrono::minutes{3}, atom::get_v,
                          atom::check_v, req.argument)
                .then([=](const std::string& json) { answer(json); },
                      [=](caf::error& e) {
                        answer("error\nthe engine did not answer: "
                               + error_sentence(self->system(), e) + "\n");
                      });
            return;
          case command_kind::unknown:
            return answer("unknown command: " + req.argument + "\n");
          case command_kind::status:
          case command_kind::status_json:
            break;
        }
        bool json = req.kind == command_kind::status_json;
        self->request(sup, std::chrono::seconds{5}, atom::get_v, atom::status_v)
            .then(
                [=](const engine_status& status) {
                  self->request(sup, std::chrono::seconds{5}, atom::get_v,
                                atom::flows_v)
                      .then(
                          [=](std::vector<flow_descriptor>& flows) {
                            on_worker(
                                self, st,
                                [=, flows = std::move(flows)] {
                                  auto named = flows;
                                  attribute(named, status.targets);
                                  return render_status(status, named, json,
                                                       paths.config);
                                },
                                answer);
                          },
                          [=](caf::error&) {
                            answer(
                                render_status(status, {}, json, paths.config));
                          });
                },
                [=](caf::error& e) {
                  answer("the engine did not answer: "
                         + error_sentence(self->system(), e) + "\n");
                });
      },
      [=](const caf::io::connection_closed_msg& m) {
        forget(self, st, m.handle);
      },
      [=](const caf::io::acceptor_closed_msg&) { self->quit(); },
  };
}

} // namespace drover
