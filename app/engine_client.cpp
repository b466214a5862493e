// The command line's side of the control socket: one command to the
// running engine, its answer printed (app/cli.cpp parses the arguments).
#include "app/engine_client.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string_view>

#include "actors/platform/process.hpp"
#include "actors/platform/sockets.hpp"
#include "app/cli.hpp"
#include "net/control_protocol.hpp"

namespace drover::cli {

namespace {

// How long the engine may keep silent before its answer. It answers at
// once, or says itself that a part of it did not answer: within 10 s, and
// within 3 min for a proxy check (actors/control_server.cpp). Silence
// longer than that means the engine itself is stuck, and a command that
// waited for ever would hang a script, a package's removal or the report
// meant to tell about it.
constexpr std::chrono::seconds answer_patience{30};
constexpr std::chrono::seconds check_patience{4 * 60};

std::chrono::milliseconds patience_for(const std::string& command) {
  if (command.rfind("follow", 0) == 0) // a stream: it idles between events,
    return std::chrono::seconds{       // with a heartbeat now and then
                                3 * net::control::follow_heartbeat_seconds};
  if (command.rfind("check", 0) == 0)
    return check_patience;
  return answer_patience;
}

enum class talk { answered, none_runs, refused, silent };

// A control socket tried and why it gave no connection.
struct refusal {
  std::string path;
  platform::local_connect_error why;
};
using refusals = std::vector<refusal>;

// Sends one command line to the running Drover and hands its answer to
// `on_data` as it arrives. Says on `err` why when what answers is not
// Drover, or when Drover does not answer in time; says nothing when none
// runs (say_none_runs: not every caller minds).
talk talk_to_running(const std::string& command, std::ostream& err,
                     const std::function<void(std::string_view)>& on_data,
                     intptr_t* engine = nullptr, refusals* refused = nullptr) {
  auto fd = platform::invalid_socket;
  for (auto& path : platform::control_socket_candidates()) {
    platform::local_connect_error why;
    if (fd = platform::connect_local(path, &why);
        fd != platform::invalid_socket)
      break;
    if (refused)
      refused->push_back({path, why});
  }
  if (fd == platform::invalid_socket)
    return talk::none_runs;
  if (std::string why; !platform::local_server_is_drover(fd, why)) {
    platform::close_local(fd);
    err << why << "\n";
    return talk::refused;
  }
  if (engine)
    *engine = platform::hold_local_server(fd);
  auto patience = patience_for(command);
  auto end = platform::exchange(fd, command + "\n", on_data, patience);
  platform::close_local(fd);
  if (end != platform::exchange_end::silent)
    return talk::answered;
  auto verb = command.substr(0, command.find(' '));
  if (verb == "follow")
    verb = "status --follow"; // what the user typed
  err << "Drover is running but did not answer `" << verb << "` within "
      << std::chrono::duration_cast<std::chrono::seconds>(patience).count()
      << " s: it seems stuck. Restart it (docs/troubleshooting.md: \"Drover "
         "is running but did not answer\"); if it happens again, please "
         "report it with `drover report`.\n";
  return talk::silent;
}

// Why no control socket answered: the most telling of the places tried
// (one the user may not use says more than one with nothing there).
void say_none_runs(const refusals& refused, std::ostream& err) {
  using platform::local_refusal;
  auto rank = [](local_refusal k) {
    switch (k) {
      case local_refusal::not_yours:
        return 3;
      case local_refusal::busy:
        return 2;
      case local_refusal::failed:
        return 1;
      case local_refusal::none_there:
        break;
    }
    return 0;
  };
  const refusal* telling = nullptr;
  for (auto& r : refused)
    if (!telling || rank(r.why.kind) > rank(telling->why.kind))
      telling = &r;
  if (!telling || telling->why.kind == local_refusal::none_there) {
    auto paths = platform::control_socket_candidates();
    err << "Drover is not running (no control socket at " << paths.front()
        << (paths.size() > 1 ? " or " + paths.back() : std::string{}) << ")\n";
    return;
  }
  switch (telling->why.kind) {
    case local_refusal::not_yours:
      err << "Drover's control socket " << telling->path
          << " is not yours to use: the Drover there was started by another "
             "user, or you are not yet in the group that may use it "
             "(docs/troubleshooting.md: \"not yours to use\")\n";
      return;
    case local_refusal::busy:
      err << "Drover is running, but its control socket " << telling->path
          << " took no client for 10 s (every connection to it busy): try "
             "again; if it stays so, restart Drover\n";
      return;
    default:
      err << "cannot reach Drover's control socket " << telling->path << ": "
          << telling->why.text << "\n";
  }
}

// The whole answer to one command, or nothing when none runs or it did
// not answer (said on `err`).
std::optional<std::string> ask_running(const std::string& command,
                                       std::ostream& err) {
  std::string answer;
  refusals refused;
  auto said = talk_to_running(
      command, err, [&](std::string_view piece) { answer += piece; }, nullptr,
      &refused);
  if (said == talk::none_runs)
    say_none_runs(refused, err);
  if (said != talk::answered)
    return std::nullopt;
  return answer;
}

} // namespace

std::optional<std::string> quiet_answer(const std::string& command,
                                        bool* silent) {
  std::ostringstream ignored;
  std::string answer;
  auto said = talk_to_running(command, ignored,
                              [&](std::string_view piece) { answer += piece; });
  if (silent)
    *silent = said == talk::silent;
  if (said != talk::answered)
    return std::nullopt;
  return answer;
}

std::optional<int> run_beside_engine(const std::vector<std::string>& command,
                                     const std::string& proxy, bool own_config,
                                     std::ostream& err) {
  auto said = [&](std::string text) {
    if (text.empty() || text.back() != '\n')
      text += '\n';
    err << "drover run: " << text;
  };
  std::string error;
  auto program = platform::waiting_program::prepare(command, error);
  if (!program) {
    said("cannot start " + command.front() + ": " + error);
    return 127; // as a shell says a program it cannot run
  }
  std::string answer;
  refusals refused;
  auto talked = talk_to_running(
      "run " + std::to_string(program->pid())
          + (proxy.empty() ? std::string{} : " " + proxy),
      err, [&](std::string_view piece) { answer += piece; }, nullptr, &refused);
  if (talked == talk::none_runs) {
    // An engine is there but cannot be used (not this user's, or stuck):
    // one of its own would only be refused beside it.
    for (auto& r : refused)
      if (r.why.kind == platform::local_refusal::not_yours
          || r.why.kind == platform::local_refusal::busy) {
        err << "drover run: ";
        say_none_runs(refused, err);
        return exit_failure;
      }
    return std::nullopt; // an engine of its own, then
  }
  if (talked != talk::answered)
    return exit_failure; // something else answers there, or none: said
  if (answer.rfind("ok\n", 0) == 0) {
    if (own_config)
      said("Drover is already running here: " + command.front()
           + " joins it, with its settings (--config is read only when no "
             "Drover runs)");
    if (answer.size() > 3)
      said(answer.substr(3)); // why its connections wait, say
    err.flush();
    int code = program->run(error);
    if (code >= 0)
      return code;
    said("cannot start " + command.front() + ": " + error);
    return 127;
  }
  if (answer.rfind("error\n", 0) == 0) {
    said(answer.substr(6));
  } else if (answer.rfind("unknown command", 0) == 0) {
    said("the Drover that is running is an older version, which cannot take "
         "a program in: restart it (quit it and start it again), then run "
         "this again");
  } else {
    said("the Drover that is running did not answer (" + answer
         + "); try again");
  }
  return exit_failure;
}

// `drover quit`: returns once the engine has ended, so its rules, kernel
// programs and cgroup are gone (the package's removal relies on it).
int quit_engine(std::ostream& out, std::ostream& err) {
  std::string answer;
  intptr_t engine = -1;
  refusals refused;
  auto said = talk_to_running(
      "quit", err, [&](std::string_view piece) { answer += piece; }, &engine,
      &refused);
  if (said == talk::none_runs)
    say_none_runs(refused, err);
  if (said != talk::answered) {
    platform::await_local_server_exit(engine, std::chrono::milliseconds{0});
    return exit_failure;
  }
  if (answer != "ok\n") {
    platform::await_local_server_exit(engine, std::chrono::milliseconds{0});
    out << answer;
    return exit_failure;
  }
  if (engine != -1
      && !platform::await_local_server_exit(engine, std::chrono::seconds{20})) {
    err << "Drover was asked to quit and is still stopping after 20 s\n";
    return exit_failure;
  }
  out << answer;
  return exit_ok;
}

// `drover start|stop|retry` and the test hook `drover fault WHAT`.
int send_engine_command(const std::string& command, std::ostream& out,
                        std::ostream& err) {
  auto answer = ask_running(command, err);
  if (!answer)
    return exit_failure;
  out << *answer;
  return *answer == "ok\n" || command.rfind("fault ", 0) == 0 ? exit_ok
                                                              : exit_failure;
}

int print_engine_status(bool json, bool follow, std::ostream& out,
                        std::ostream& err) {
  if (follow) {
    // The recent events, then each new one as it happens, until the
    // engine stops or the user interrupts.
    refusals refused;
    std::string line; // a line is printed whole, a heartbeat not at all
    auto said = talk_to_running(
        json ? "follow json" : "follow", err,
        [&](std::string_view piece) {
          for (char c : piece) {
            line += c;
            if (c != '\n')
              continue;
            if (!net::control::is_follow_heartbeat(
                    std::string_view{line}.substr(0, line.size() - 1)))
              out << line;
            line.clear();
          }
          out << std::flush;
        },
        nullptr, &refused);
    out << line; // the last words of an engine that ended mid-line
    if (said == talk::none_runs)
      say_none_runs(refused, err);
    return said == talk::answered ? exit_ok : exit_failure;
  }
  auto answer = ask_running(json ? "status json" : "status", err);
  if (!answer)
    return exit_failure;
  out << *answer;
  return exit_ok;
}

} // namespace drover::cli
