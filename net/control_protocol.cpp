#include "net/control_protocol.hpp"

#include <array>
#include <utility>

namespace drover::net::control {

namespace {

constexpr std::array<std::pair<std::string_view, command_kind>, 12> exact{{
    {"status", command_kind::status},
    {"status json", command_kind::status_json},
    {"follow", command_kind::follow},
    {"follow json", command_kind::follow_json},
    {"start", command_kind::start},
    {"stop", command_kind::stop},
    {"retry", command_kind::retry},
    {"quit", command_kind::quit},
    {"trace on", command_kind::trace_on},
    {"trace off", command_kind::trace_off},
    {"config get", command_kind::config_get},
    {"config set", command_kind::config_set}, // only with its size
}};

request refuse(std::string error) {
  request r;
  r.result = request::state::refused;
  r.error = std::move(error);
  return r;
}

// A size written as digits only: no sign, blank or suffix that a
// conversion function would let through.
bool read_size(std::string_view text, size_t max, size_t& size) {
  if (text.empty() || text.size() > 10) // 10 digits: 2^31-1 fits
    return false;
  size = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    size = size * 10 + static_cast<size_t>(c - '0');
  }
  return size <= max;
}

} // namespace

request read_request(std::string_view received, size_t max_body) {
  auto nl = received.find('\n');
  if (nl == std::string_view::npos) {
    if (received.size() > max_command_line)
      return refuse(""); // not a client of ours: the door
    return {};
  }
  if (nl > max_command_line)
    return refuse("");
  auto line = received.substr(0, nl);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1); // a client that ends its line the Windows way
  request r;
  r.line_complete = true;
  constexpr std::string_view set = "config set ";
  constexpr std::string_view fault = "fault ";
  constexpr std::string_view run = "run ";
  constexpr std::string_view check = "check";
  if (line.substr(0, set.size()) == set) {
    r.kind = command_kind::config_set;
    size_t size = 0;
    if (!read_size(line.substr(set.size()), max_body, size)) {
      auto refused
          = refuse("error\nconfig set: the size must be a number up to "
                   + std::to_string(max_body) + "\n");
      refused.line_complete = true;
      refused.kind = command_kind::config_set;
      return refused;
    }
    auto body = received.substr(nl + 1);
    if (body.size() < size)
      return r; // more to come
    r.body = std::string{body.substr(0, size)};
    r.result = request::state::complete;
    return r;
  }
  r.result = request::state::complete;
  if (line.substr(0, run.size()) == run) {
    // `run PID` or `run PID NAME` (the proxy's name, which may hold spaces).
    auto rest = line.substr(run.size());
    auto space = rest.find(' ');
    auto name = space == std::string_view::npos ? std::string_view{}
                                                : rest.substr(space + 1);
    size_t pid = 0;
    if (!read_size(rest.substr(0, space), 0x7fffffff, pid) || pid == 0
        || (space != std::string_view::npos && name.empty())) {
      auto refused = refuse("error\nrun: name the process by its number\n");
      refused.line_complete = true;
      refused.kind = command_kind::run;
      return refused;
    }
    r.kind = command_kind::run;
    r.pid = static_cast<uint32_t>(pid);
    r.argument = printable(name, 40);
    return r;
  }
  if (line == check
      || line.substr(0, check.size() + 1) == std::string{check} + " ") {
    r.kind = command_kind::check;
    if (line.size() > check.size())
      r.argument = printable(line.substr(check.size() + 1), 40);
    return r;
  }
  if (line.substr(0, fault.size()) == fault) {
    r.kind = command_kind::fault;
    r.argument = printable(line.substr(fault.size()), 64);
    return r;
  }
  for (auto& [name, kind] : exact)
    if (line == name && kind != command_kind::config_set) {
      r.kind = kind;
      return r;
    }
  r.kind = command_kind::unknown;
  r.argument = printable(line, 40);
  return r;
}

bool changes_things(command_kind kind) {
  switch (kind) {
    case command_kind::config_set:
    case command_kind::quit:
    case command_kind::trace_on:
    case command_kind::trace_off:
    case command_kind::fault:
      return true;
    default:
      return false;
  }
}

std::string printable(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

} // namespace drover::net::control
