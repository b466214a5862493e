#include "actors/control_server.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <caf/event_based_actor.hpp>
#include <caf/io/system_messages.hpp>

#include "actors/log/json.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"
#include "config/config_file.hpp"
#include "config/parse.hpp"
#include "config/password.hpp"

namespace drover {

namespace {

using caf::io::connection_handle;

std::chrono::system_clock::time_point wall(caf::timestamp t) {
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(t);
}

std::string endpoint_text(uint32_t ip, uint16_t port) {
  return net::to_string(net::ipv4_address{ip}) + ":" + std::to_string(port);
}

std::string bytes_text(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string duration_text(std::chrono::seconds d) {
  auto s = d.count();
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm %02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

std::chrono::seconds since(caf::timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(caf::make_timestamp()
                                                          - t);
}

void field(std::string& out, const char* key, const std::string& text) {
  out += '"';
  out += key;
  out += "\":";
  json::append_string(out, text);
  out += ',';
}

void field(std::string& out, const char* key, uint64_t v) {
  out += '"';
  out += key;
  out += "\":";
  out += std::to_string(v);
  out += ',';
}

void close_object(std::string& out) {
  if (!out.empty() && out.back() == ',')
    out.back() = '}';
  else
    out += '}';
}

// An event's fields, without braces (shared by `status --json` and the
// follow stream).
void event_fields(std::string& o, const engine_event& e) {
  field(o, "time", trace::format_timestamp(wall(e.time)));
  field(o, "kind", to_string(e.kind));
  field(o, "state", to_string(e.state));
  field(o, "reason", e.reason);
  field(o, "failure", to_string(e.failure));
  field(o, "attempt", e.attempt);
}

std::string event_text(const engine_event& e) {
  return trace::format_timestamp(wall(e.time)).substr(11, 8) + "  " + label(e)
         + ": " + e.reason
         + (e.attempt > 0 ? " (attempt " + std::to_string(e.attempt) + ")"
                          : "");
}

std::string render_json(const engine_status& s,
                        const std::vector<flow_descriptor>& flows,
                        const std::string& config_path) {
  std::string o = "{";
  field(o, "config", config_path);
  field(o, "log", log::log_file().string());
  o += std::string{"\"trace\":"} + (trace::enabled() ? "true" : "false") + ",";
  field(o, "state", to_string(s.last.state));
  field(o, "reason", s.last.reason);
  field(o, "failure", to_string(s.last.failure));
  field(o, "attempt", s.last.attempt);
  field(o, "since", trace::format_timestamp(wall(s.last.time)));
  bool active = s.last.state == engine_state::active;
  field(o, "uptime_seconds",
        active ? static_cast<uint64_t>(since(s.stats.active_since).count())
               : 0);
  field(o, "bytes_in", s.stats.bytes_in);
  field(o, "bytes_out", s.stats.bytes_out);
  field(o, "tcp_flows", s.stats.tcp_flows);
  field(o, "udp_flows", s.stats.udp_flows);
  field(o, "packets_dropped", s.stats.packets_dropped);
  field(o, "ipv6_dropped", s.stats.ipv6_dropped);
  field(o, "refused_connections", s.stats.refused_listener);
  field(o, "flows_evicted", s.stats.flows_evicted);
  field(o, "packets_fenced", s.stats.packets_fenced);
  field(o, "connections_reset", s.stats.connections_reset);
  o += std::string{"\"no_traffic\":"} + (s.stats.no_traffic ? "true" : "false")
       + ",";
  o += "\"flows\":[";
  for (auto& f : flows) {
    o += '{';
    field(o, "id", f.id);
    field(o, "protocol", f.protocol == 6 ? "tcp" : "udp");
    field(o, "process", f.process);
    field(o, "pid", f.pid);
    field(o, "source", endpoint_text(f.src_ip, f.src_port));
    field(o, "destination", endpoint_text(f.dst_ip, f.dst_port));
    field(o, "bytes_in", f.bytes_in);
    field(o, "bytes_out", f.bytes_out);
    field(o, "age_seconds", static_cast<uint64_t>(since(f.started).count()));
    close_object(o);
    o += ',';
  }
  if (o.back() == ',')
    o.pop_back();
  o += "],\"events\":[";
  for (auto& e : s.recent) {
    o += '{';
    event_fields(o, e);
    close_object(o);
    o += ',';
  }
  if (o.back() == ',')
    o.pop_back();
  o += "]}\n";
  return o;
}

std::string render_text(const engine_status& s,
                        const std::vector<flow_descriptor>& flows) {
  std::string o;
  auto line = [&](const std::string& label, const std::string& value) {
    o += label;
    o.append(label.size() < 10 ? 10 - label.size() : 1, ' ');
    o += value + "\n";
  };
  auto state = std::string{to_string(s.last.state)};
  state[0] = static_cast<char>(state[0] - 'a' + 'A');
  line("State:",
       state + (s.last.reason.empty() ? "" : " (" + s.last.reason + ")"));
  if (s.last.attempt > 0)
    line("Attempt:", std::to_string(s.last.attempt));
  if (s.stats.no_traffic)
    line("Warning:", "no traffic through the proxy lately while a target "
                     "program runs");
  if (s.last.state == engine_state::active)
    line("Uptime:", duration_text(since(s.stats.active_since)));
  line("Traffic:", "in " + bytes_text(s.stats.bytes_in) + ", out "
                       + bytes_text(s.stats.bytes_out));
  line("Flows:", std::to_string(s.stats.tcp_flows) + " TCP, "
                     + std::to_string(s.stats.udp_flows) + " UDP");
  line("Dropped:",
       std::to_string(s.stats.packets_dropped) + " packets ("
           + std::to_string(s.stats.ipv6_dropped) + " IPv6), "
           + std::to_string(s.stats.refused_listener) + " refused connections, "
           + std::to_string(s.stats.flows_evicted) + " evicted flows");
  if (s.stats.packets_fenced > 0 || s.stats.connections_reset > 0)
    line("Blocked:", std::to_string(s.stats.packets_fenced)
                         + " packets that would have gone direct, "
                         + std::to_string(s.stats.connections_reset)
                         + " connections reset (made before Drover saw them)");
  if (!flows.empty()) {
    o += "\nOpen flows:\n";
    for (auto& f : flows)
      o += "  " + (f.process.empty() ? "" : f.process + " ")
           + std::string{f.protocol == 6 ? "TCP " : "UDP "}
           + endpoint_text(f.src_ip, f.src_port) + " -> "
           + endpoint_text(f.dst_ip, f.dst_port) + "  in "
           + bytes_text(f.bytes_in) + ", out " + bytes_text(f.bytes_out) + ", "
           + duration_text(since(f.started)) + "\n";
  }
  if (!s.recent.empty()) {
    o += "\nRecent events:\n";
    for (auto& e : s.recent)
      o += "  " + event_text(e) + "\n";
  }
  return o;
}

// Names the process behind each flow (its source socket's owner) where the
// OS tells.
void attribute(std::vector<flow_descriptor>& flows) {
  std::map<std::pair<uint8_t, uint32_t>, std::vector<uint16_t>> wanted;
  for (auto& f : flows)
    if (f.pid == 0)
      wanted[{f.protocol, f.src_ip}].push_back(f.src_port);
  for (auto& [key, ports] : wanted) {
    auto owners = platform::socket_owners(key.first, key.second, ports);
    for (auto& f : flows)
      if (f.pid == 0 && f.protocol == key.first && f.src_ip == key.second)
        if (auto it = owners.find(f.src_port); it != owners.end()) {
          f.pid = it->second.pid;
          f.process = it->second.name;
        }
  }
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

// The password the config file holds now ("" when none or unreadable).
std::string stored_password(const std::string& path) {
  std::string error;
  auto text = platform::read_file(path, config::max_file_bytes,
                                  platform::on_behalf::invoking_user, error);
  if (!text)
    return {};
  auto parsed = config::parse(*text, path);
  return parsed.ok() ? parsed.value->proxy.password : std::string{};
}

// Validates `text` and writes it over the config file: "ok", or "error"
// and the diagnostics, one per line.
std::string replace_config(const std::string& path,
                           const std::string& incoming) {
  // A config that comes back from `config get` carries the placeholder:
  // the stored password stays.
  auto text = config::keep_password(incoming, stored_password(path));
  auto parsed = config::parse(text, path);
  if (!parsed.ok()) {
    std::string answer = "error\n";
    for (auto& d : parsed.errors)
      answer += d.to_string() + "\n";
    return answer;
  }
  auto ec = platform::write_file_atomically(path, text,
                                            platform::file_access::owner_only,
                                            platform::on_behalf::invoking_user);
  if (ec)
    return "error\ncannot write " + path + ": " + ec.message() + "\n";
  return "ok\n";
}

// The largest config text `config set` takes.
constexpr size_t max_config_bytes = config::max_file_bytes;

// Runs `work` (file or /proc reading, an fsync) on a thread of its own and
// hands its text to `done`: this broker shares CAF's I/O loop with every
// relayed connection, which must not wait for it.
template<class Work, class Done>
void off_the_io_loop(caf::io::broker* self, Work work, Done done) {
  auto worker = self->spawn<caf::detached>(
      [work](caf::event_based_actor* w) -> caf::behavior {
        return {[=](atom::internal) {
          w->quit();
          return work();
        }};
      });
  self->request(worker, std::chrono::seconds{10}, atom::internal_v)
      .then([=](std::string& text) { done(text); },
            [=](caf::error& e) {
              done("error\nthe engine did not answer: "
                   + self->system().render(e) + "\n");
            });
}

} // namespace

std::string render_event(const engine_event& e, bool json) {
  if (!json)
    return event_text(e) + "\n";
  std::string o = "{";
  field(o, "type", "event");
  event_fields(o, e);
  close_object(o);
  return o + "\n";
}

std::string render_stats(const stats_snapshot& s) {
  std::string o = "{";
  field(o, "type", "stats");
  field(o, "bytes_in", s.bytes_in);
  field(o, "bytes_out", s.bytes_out);
  field(o, "tcp_flows", s.tcp_flows);
  field(o, "udp_flows", s.udp_flows);
  field(o, "packets_dropped", s.packets_dropped);
  field(o, "packets_fenced", s.packets_fenced);
  // Meaningful while Active: the start of the current Active period.
  field(o, "uptime_seconds",
        s.active_since == caf::timestamp{}
            ? 0
            : static_cast<uint64_t>(since(s.active_since).count()));
  o += std::string{"\"no_traffic\":"} + (s.no_traffic ? "true" : "false");
  return o + "}\n";
}

std::string render_status(const engine_status& s,
                          const std::vector<flow_descriptor>& flows, bool json,
                          const std::string& config_path) {
  return json ? render_json(s, flows, config_path) : render_text(s, flows);
}

caf::behavior control_server(caf::io::broker* self, platform::socket_handle fd,
                             supervisor_actor sup, control_paths paths) {
  self->add_doorman(fd);
  self->attach_functor([path = paths.socket] { std::remove(path.c_str()); });
  auto pending = std::make_shared<std::map<connection_handle, std::string>>();
  // Connections whose client may change things (the settings, quit, the
  // trace log); the others may look and Start/Stop/Retry.
  auto configurers = std::make_shared<std::set<connection_handle>>();
  // Connections that follow the engine: each has a listener actor of its
  // own that the supervisor sends events to.
  auto followers = std::make_shared<std::map<int64_t, caf::actor>>();
  auto follow = [=](connection_handle hdl, bool json) {
    auto server = caf::actor_cast<caf::actor>(self);
    auto id = hdl.id();
    auto listener = self->spawn<caf::linked>(
        [=](caf::event_based_actor* f) -> caf::behavior {
          return {
              [=](const engine_event& e) {
                f->send(server, atom::update_v, id, render_event(e, json));
              },
              [=](const stats_snapshot& s) {
                if (json)
                  f->send(server, atom::update_v, id, render_stats(s));
              },
          };
        });
    (*followers)[id] = listener;
    self->request(sup, std::chrono::seconds{5}, atom::subscribe_v,
                  caf::actor_cast<engine_listener_actor>(listener))
        .then(
            [=](const engine_status& status) {
              std::string lines;
              for (auto& e : status.recent)
                lines += render_event(e, json);
              self->write(hdl, lines.size(), lines.data());
              self->flush(hdl);
            },
            [=](caf::error&) { self->close(hdl); });
  };
  return {
      [=](atom::update, int64_t id, const std::string& line) {
        if (followers->count(id) == 0)
          return; // the client left
        auto hdl = connection_handle::from_int(id);
        self->write(hdl, line.size(), line.data());
        self->flush(hdl);
      },
      [=](const caf::io::new_connection_msg& m) {
        if (platform::local_clients_need_admission
            && !platform::local_client_admitted(self->remote_port(m.handle))) {
          log::get("control")->warn(
              "refused a control connection that did not come through the "
              "control pipe (port {})",
              self->remote_port(m.handle));
          self->close(m.handle);
          return;
        }
        (*pending)[m.handle];
        if (platform::control_client_may_configure(
                static_cast<platform::socket_handle>(m.handle.id())))
          configurers->insert(m.handle);
        self->configure_read(m.handle, caf::io::receive_policy::at_most(4096));
      },
      [=](const caf::io::new_data_msg& m) {
        auto& buf = (*pending)[m.handle];
        buf.append(m.buf.begin(), m.buf.end());
        auto nl = buf.find('\n');
        if (nl == std::string::npos) {
          if (buf.size() > 200) // not a client of ours
            self->close(m.handle);
          return;
        }
        auto command = buf.substr(0, nl);
        auto hdl = m.handle;
        auto answer = [=](const std::string& text) {
          self->write(hdl, text.size(), text.data());
          self->flush(hdl);
          self->close(hdl);
          configurers->erase(hdl);
        };
        bool changes = command.rfind("config set ", 0) == 0 || command == "quit"
                       || command.rfind("trace ", 0) == 0
                       || command.rfind("fault ", 0) == 0;
        if (changes && configurers->count(hdl) == 0) {
          pending->erase(hdl);
          log::get("control")->warn("refused \"{}\" from a caller who may "
                                    "only look",
                                    command.substr(0, 16));
          return answer("error\nrefused: only root and the user Drover runs "
                        "for may change its settings, quit it or trace it\n");
        }
        // `config set N`: the command line, then N bytes of config text.
        if (command.rfind("config set ", 0) == 0) {
          size_t size = 0;
          try {
            size = std::stoul(command.substr(11));
          } catch (...) {
            size = max_config_bytes + 1;
          }
          if (size > max_config_bytes) {
            pending->erase(hdl);
            return answer("error\nconfig set: the size must be a number up to "
                          + std::to_string(max_config_bytes) + "\n");
          }
          if (buf.size() - nl - 1 < size)
            return; // more to come
          auto text = buf.substr(nl + 1, size);
          pending->erase(hdl);
          return off_the_io_loop(
              self, [=] { return replace_config(paths.config, text); }, answer);
        }
        pending->erase(hdl);
        if (command == "config get")
          return off_the_io_loop(
              self, [=] { return config_text(paths.config); }, answer);
        if (command == "quit") {
          // The process's main thread stops the engine cleanly (capture
          // released, sessions closed) and exits.
          answer("ok\n");
          platform::request_termination();
          return;
        }
        if (command == "trace on" || command == "trace off") {
          trace::enable(command == "trace on");
          return answer("ok\n");
        }
        // Commands for the engine: what the tray's menu does.
        if (command == "start" || command == "stop" || command == "retry") {
          if (command == "start")
            self->send(sup, atom::start_v);
          else if (command == "stop")
            self->send(sup, atom::stop_v);
          else
            self->send(sup, atom::retry_v);
          return answer("ok\n");
        }
        if (command == "follow" || command == "follow json") {
          follow(hdl, command == "follow json");
          return;
        }
        if (command.rfind("fault ", 0) == 0) {
          self->request(sup, std::chrono::seconds{5}, atom::fault_v,
                        command.substr(6))
              .then([=](const std::string& done) { answer(done + "\n"); },
                    [=](caf::error& e) {
                      answer("the engine did not answer: "
                             + self->system().render(e) + "\n");
                    });
          return;
        }
        if (command != "status" && command != "status json")
          return answer("unknown command: " + command + "\n");
        bool json = command == "status json";
        self->request(sup, std::chrono::seconds{5}, atom::get_v, atom::status_v)
            .then(
                [=](const engine_status& status) {
                  self->request(sup, std::chrono::seconds{5}, atom::get_v,
                                atom::flows_v)
                      .then(
                          [=](std::vector<flow_descriptor>& flows) {
                            off_the_io_loop(
                                self,
                                [=, flows = std::move(flows)] {
                                  auto named = flows;
                                  attribute(named);
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
                         + self->system().render(e) + "\n");
                });
      },
      [=](const caf::io::connection_closed_msg& m) {
        pending->erase(m.handle);
        configurers->erase(m.handle);
        auto it = followers->find(m.handle.id());
        if (it != followers->end()) {
          self->send_exit(it->second, caf::exit_reason::user_shutdown);
          followers->erase(it);
        }
      },
      [=](const caf::io::acceptor_closed_msg&) { self->quit(); },
  };
}

} // namespace drover
