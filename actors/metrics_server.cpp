#include "actors/metrics_server.hpp"

#include <chrono>
#include <map>
#include <memory>

#include <caf/io/system_messages.hpp>

#include "actors/log/logging.hpp"
#include "actors/metrics_render.hpp"
#include "actors/panic.hpp"
#include "net/metrics_http.hpp"

namespace drover {

namespace {

namespace http = net::metrics_http;
using caf::io::accept_handle;
using caf::io::connection_handle;

// Any local program may connect: bounded in number and in time.
constexpr size_t max_clients = 16;
constexpr auto idle_limit = std::chrono::seconds{5};

struct metrics_state {
  std::optional<accept_handle> door;
  std::string where; // "127.0.0.1:9464", or empty while off
  struct client {
    std::string request; // until it is whole
    bool answered = false;
    // A descriptor (and so a handle) is reused: a sweep or an answer meant
    // for an earlier connection must not reach a newer one.
    uint64_t serial = 0;
  };
  std::map<connection_handle, client> open;
  uint64_t next_serial = 0;

  bool still_open(connection_handle hdl, uint64_t serial) const {
    auto it = open.find(hdl);
    return it != open.end() && it->second.serial == serial;
  }
};

} // namespace

caf::behavior metrics_server(caf::io::broker* self, supervisor_actor sup,
                             std::optional<config::host_port> listen) {
  report_panics(self);
  auto st = std::make_shared<metrics_state>();
  auto say = [=](const std::string& text) {
    caf::anon_send(sup, atom::repair_v, text);
  };
  auto open = [=](const std::optional<config::host_port>& at) {
    if (st->door) {
      self->close(*st->door);
      st->door.reset();
    }
    st->where.clear();
    if (!at)
      return;
    auto door = self->add_tcp_doorman(at->port, at->host.c_str(), true);
    if (!door) {
      say("the metrics endpoint cannot listen on " + at->text() + " ("
          + self->system().render(door.error())
          + "): is another program using that port? Choose another "
            "[metrics] listen");
      return;
    }
    st->door = door->first;
    st->where = at->text();
    log::get("metrics")->info("metrics at http://{}/metrics", st->where);
  };
  auto close = [=](connection_handle hdl) {
    self->close(hdl);
    st->open.erase(hdl);
  };
  open(listen);
  return {
      [=](atom::update, const std::string& text) {
        auto at = config::parse_host_port(text);
        if (text.empty() || at)
          open(text.empty() ? std::nullopt : at);
      },
      [=](const caf::io::new_connection_msg& m) {
        if (st->open.size() >= max_clients) {
          self->close(m.handle);
          return;
        }
        auto serial = ++st->next_serial;
        st->open[m.handle].serial = serial;
        self->configure_read(m.handle, caf::io::receive_policy::at_most(4096));
        self->delayed_send(self, idle_limit, atom::sweep_v, m.handle.id(),
                           serial);
      },
      [=](atom::sweep, int64_t id, uint64_t serial) {
        auto hdl = connection_handle::from_int(id);
        if (st->still_open(hdl, serial) && !st->open[hdl].answered)
          close(hdl); // no whole request in time
      },
      [=](const caf::io::new_data_msg& m) {
        auto it = st->open.find(m.handle);
        if (it == st->open.end() || it->second.answered)
          return; // answered already
        auto& c = it->second;
        c.request.append(m.buf.begin(), m.buf.end());
        auto verdict = http::read_request(c.request);
        if (verdict == http::verdict::need_more)
          return;
        c.answered = true;
        c.request.clear();
        auto hdl = m.handle;
        auto serial = c.serial;
        auto answer = [=](const std::string& text) {
          if (!st->still_open(hdl, serial))
            return; // its client left; a newer one may have its handle
          self->write(hdl, text.size(), text.data());
          self->flush(hdl);
          close(hdl);
        };
        if (verdict != http::verdict::metrics)
          return answer(http::answer(verdict, {}));
        self->request(sup, std::chrono::seconds{3}, atom::get_v, atom::status_v)
            .then(
                [=](const engine_status& s) {
                  answer(http::answer(verdict, render_metrics(s)));
                },
                [=](caf::error&) {
                  answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
                         "0\r\nConnection: close\r\n\r\n");
                });
      },
      [=](const caf::io::connection_closed_msg& m) {
        st->open.erase(m.handle);
      },
      [=](const caf::io::acceptor_closed_msg&) { st->door.reset(); },
  };
}

} // namespace drover
