#include "app/cli.hpp"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>

#include "actors/check_report.hpp"
#include "actors/engine_config.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/redact.hpp"
#include "actors/log/trace.hpp"
#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"
#include "app/engine_client.hpp"
#include "app/finish_update.hpp"
#include "app/report.hpp"
#include "app/unblock.hpp"
#include "app/version.hpp"
#include "config/config_file.hpp"
#include "config/diagnostic.hpp"
#include "config/parse.hpp"
#include "messages/types.hpp"

#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>

#include <caf/io/middleman.hpp>

#include "actors/engine.hpp"
#include "actors/fault_hooks.hpp"
#include "actors/panic.hpp"
#include "actors/platform/sockets.hpp"
#include "actors/proxy_probe.hpp"
#include "actors/supervisor.hpp"

namespace drover::cli {

namespace {

tray_runner& the_tray() {
  static tray_runner runner;
  return runner;
}

// A desktop session to show a tray on.
bool has_display() {
#ifdef _WIN32
  return true;
#else
  auto set = [](const char* var) {
    const char* v = std::getenv(var);
    return v != nullptr && *v != 0;
  };
  return set("DISPLAY") || set("WAYLAND_DISPLAY");
#endif
}

namespace fs = std::filesystem;

struct options {
  std::string config_path; // --config; empty: the platform default
  bool trace = false;
  bool headless = false;
  bool json = false;                // `status --json`
  bool follow = false;              // `status --follow`
  std::string check_path;           // `config check [PATH]`
  std::string tcp_target;           // `check --tcp-target`
  std::string udp_target;           // `check --udp-target`
  std::string check_timeout = "5s"; // `check --timeout`
  std::string check_proxy;          // `check --proxy NAME`
  std::vector<std::string> command; // `run -- CMD [ARGS...]`
  std::string run_proxy;            // `run --proxy NAME`
  std::string report_path;          // `report [PATH]`
  bool report_no_check = false;     // `report --no-check`
  std::string after_update;         // --after-update (hidden)
  bool start_stopped = false;       // --start-stopped (hidden)
  finish_update_request update;     // `finish-update` (hidden)
};

fs::path config_path_of(const options& o) {
  return o.config_path.empty() ? platform::default_config_path()
                               : fs::path{o.config_path};
}

std::string version_line() {
#ifdef _WIN32
  const char* os = "Windows x64";
#else
  const char* os = "Linux";
#endif
  return std::string{"drover "} + version + " (" + os + ", CAF 0.17.6"
         + (fault_hooks_built_in() ? ", test build with fault hooks" : "")
         + ")";
}

void print(std::ostream& os, const std::vector<config::diagnostic>& ds) {
  for (auto& d : ds)
    os << d.to_string() << '\n';
}

int config_check(const options& o, std::ostream& out, std::ostream& err) {
  fs::path path
      = o.check_path.empty() ? config_path_of(o) : fs::path{o.check_path};
  auto report = config::check_file(path);
  print(err, report.warnings);
  if (report.outcome != config::config_file::status::loaded) {
    print(err, report.errors);
    return exit_failure;
  }
  out << "ok\n";
  return exit_ok;
}

// Loads the config for a long-running mode. A missing file is created with
// the defaults (so the user has something to edit); a broken one is
// reported and the defaults run, as nothing better is known at start-up.
config::settings load_for_run(config::config_file& file, std::ostream& err,
                              std::optional<config_error>& problem) {
  auto report = file.load();
  using status = config::config_file::status;
  switch (report.outcome) {
    case status::loaded: {
      print(err, report.warnings);
      // An older version's file: written in this version's, once, the old
      // one kept beside it.
      std::string failed;
      auto done = file.upgrade(failed);
      if (!done.empty())
        err << done << '\n';
      if (!failed.empty())
        err << "warning: " << failed << '\n';
      break;
    }
    case status::missing:
      if (auto failed = file.save(config::settings{}); !failed.empty())
        err << "warning: could not create a default config: " << failed << '\n';
      else
        err << "created a default config at " << file.path().string() << '\n';
      break;
    case status::unreadable:
    case status::invalid:
      print(err, report.errors);
      err << "running with the default settings until the file is fixed\n";
      problem.emplace();
      problem->file = file.path().string();
      if (!report.errors.empty()) {
        problem->line = report.errors.front().line;
        problem->column = report.errors.front().column;
        problem->key = report.errors.front().key;
      }
      problem->message = config::to_string(report.errors)
                         + "running with the default settings until the "
                           "file is fixed";
      break;
  }
  return file.current();
}

// False (said on `err`) when the engine's folders cannot be made its own
// (platform::secure_engine_folders): nothing is written anywhere then.
bool start_logging(const config::settings& s, bool trace_flag, bool console,
                   std::ostream& err) {
  std::vector<std::string> moved;
  if (auto problem = platform::secure_engine_folders(moved)) {
    err << "drover: " << *problem << "\n";
    return false;
  }
  log::set_secrets(config::credentials(s));
  auto dir = platform::default_log_dir();
  auto bytes = static_cast<size_t>(s.ui.log_max_mb) << 20;
  log::init({dir, bytes, s.ui.log_backups, s.ui.level, console});
  trace::open({dir, bytes, s.ui.log_backups});
  trace::enable(trace_flag || s.ui.level == config::log_level::trace);
  for (auto& what : moved)
    log::get("drover")->warn(
        "{}: Drover uses only a folder of its own, and made a new one", what);
  return true;
}

// This command's arguments (without the program), for running it again.
std::vector<std::string>& command_arguments() {
  static std::vector<std::string> args;
  return args;
}

// Nothing when this process may capture; otherwise the exit code to end
// with. Windows runs the same command again as administrator (the UAC
// prompt) and ends with its exit code, or says the prompt was cancelled;
// Linux says to use sudo.
std::optional<int> capture_here_or_elevate(std::ostream& err) {
  auto missing = platform::capture_privilege_problem();
  if (missing.empty())
    return std::nullopt;
#ifdef _WIN32
  std::string error;
  int rc = platform::run_elevated(command_arguments(), error);
  if (rc == platform::elevation_cancelled) {
    err << "drover: the administrator prompt was cancelled. " << missing
        << '\n';
    return exit_permission;
  }
  if (rc >= 0)
    return rc;
  err << "drover: " << error << '\n';
  return exit_permission;
#else
  err << "drover: " << missing << '\n';
  return exit_permission;
#endif
}

// Who may use the control socket, for the start-up log line.
std::string& control_users() {
  static std::string users;
  return users;
}

// Opens the control socket first: it is also what keeps a second instance
// from starting in the same network namespace.
platform::socket_handle open_control(std::ostream& err) {
  std::string error;
  auto path = platform::control_socket_path();
  auto fd = platform::listen_local(path, error);
  if (fd == platform::invalid_socket)
    err << "drover: " << error << '\n';
  else
    control_users() = platform::share_control_socket(path);
  return fd;
}

// `drover check`: the proxy, a CONNECT through it, and a UDP round trip
// through its relay, each step with its latency and verdict.
int check_proxy(const options& o, std::ostream& out, std::ostream& err) {
  config::config_file file{config_path_of(o)};
  auto report = file.load();
  print(err, report.warnings);
  if (report.outcome == config::config_file::status::invalid
      || report.outcome == config::config_file::status::unreadable) {
    print(err, report.errors);
    return exit_failure;
  }
  auto settings = file.current();
  auto target = [&](const std::string& flag, const std::string& text,
                    const config::host_port& fallback)
      -> std::optional<config::host_port> {
    if (text.empty())
      return fallback;
    auto hp = config::parse_host_port(text);
    if (!hp)
      err << "drover check: " << flag
          << " must be a host name or IPv4 address and a port, such as "
             "discord.com:443, got \""
          << text << "\"\n";
    return hp;
  };
  auto tcp = target("--tcp-target", o.tcp_target, settings.check.tcp_target);
  auto udp = target("--udp-target", o.udp_target, settings.check.udp_target);
  auto timeout = config::parse_duration(o.check_timeout);
  if (!timeout || timeout->count() < 100 || timeout->count() > 60000)
    err << "drover check: --timeout must be a duration from 100ms to 60s, "
           "such as 5s, got \""
        << o.check_timeout << "\"\n";
  if (!tcp || !udp || !timeout || timeout->count() < 100
      || timeout->count() > 60000)
    return exit_failure;
  check_options co;
  co.tcp_target = *tcp;
  co.udp_target = *udp;
  co.budget = *timeout;
  co.proxy = o.check_proxy;
  auto r = run_checks(settings, co, platform::resolve_ipv4, probe_proxy);
  if (!r.known) {
    err << "drover check: " << r.error << "\n";
    return exit_failure;
  }
  out << (o.json ? r.json : r.text);
  return r.all_ok ? exit_ok : exit_failure;
}

// What both ways of running the engine (headless, `drover run`) do first:
// the privileges, the control socket (which keeps a second engine out),
// the process's limits, the config and the logs. Nothing, with `code` set,
// when the engine cannot run.
std::optional<engine_setup> prepare_engine(const options& o, bool console,
                                           std::ostream& err, int& code) {
  code = exit_failure;
  if (auto rc = capture_here_or_elevate(err)) {
    code = *rc;
    return std::nullopt;
  }
  auto control = open_control(err);
  if (control == platform::invalid_socket)
    return std::nullopt;
  platform::keep_new_files_private();
  platform::raise_open_file_limit();
  platform::capture_termination_requests();
  engine_setup setup{config::config_file{config_path_of(o)}, o.trace, control,
                     std::nullopt};
  auto settings = load_for_run(setup.file, err, setup.config_problem);
  if (!start_logging(settings, o.trace, console, err))
    return std::nullopt;
  return setup;
}

int headless(const options& o, std::ostream& err) {
  int code = exit_ok;
  auto setup = prepare_engine(o, true, err, code);
  if (!setup)
    return code;
  auto& file = setup->file;
  auto lg = log::get("drover");
  lg->info("{} starting; config {}, log {}", version_line(),
           file.path().string(), log::log_file().string());
  if (trace::enabled())
    lg->info("trace log: {}", trace::trace_file().string());
  lg->info("control socket {} (for {})", platform::control_socket_path(),
           control_users());
  trace::record("drover", "start",
                {{"version", version}, {"config", file.path().string()}});
  {
    engine_config cfg;
    caf::actor_system system{cfg};
    auto sup = start_engine(system, std::move(*setup));
    // Not waited for: a stop request must be served at once, in any state.
    // --start-stopped (the tray after an update the user made while
    // stopped): Idle until Start.
    if (!o.start_stopped)
      caf::anon_send(sup, atom::start_v);
    else
      lg->info("started stopped: waiting for Start");
    platform::wait_for_termination();
    lg->info("stopping");
    stop_engine(system, sup);
    trace::record("drover", "stop", {});
  }
  // The listener closed with the actor system: its file goes too.
  platform::remove_local(platform::control_socket_path());
  trace::close();
  log::shutdown();
  return exit_ok;
}

int run_command(const options& o, std::ostream& err) {
  // Beside a running engine (the tray's, a service's): it puts this process
  // in place, which then becomes the program.
  if (auto joined
      = run_beside_engine(o.command, o.run_proxy, !o.config_path.empty(), err))
    return *joined;
  int code = exit_failure;
  auto setup = prepare_engine(o, false, err, code);
  if (!setup)
    return code;
  code = exit_failure;
  std::string why;
  auto proxy = o.run_proxy.empty() ? std::optional<size_t>{0}
                                   : config::proxy_named(setup->file.current(),
                                                         o.run_proxy, why);
  if (!proxy) {
    err << "drover run: " << why << " (in " << setup->file.path().string()
        << ")\n";
  } else {
    engine_config cfg;
    caf::actor_system system{cfg};
    auto sup = start_engine(system, std::move(*setup));
    caf::scoped_actor self{system};
    auto status = start_and_wait(system, sup, *proxy);
    if (status.last.state == engine_state::reconnecting)
      err << "drover run: " << status.last.reason
          << "; starting the program anyway (its connections are refused "
             "until the proxy answers)\n";
    if (status.last.state != engine_state::active
        && status.last.state != engine_state::reconnecting) {
      err << "drover run: the engine did not start: " << status.last.reason
          << '\n';
    } else {
      int64_t pid = -1;
      self->request(sup, std::chrono::seconds{10}, atom::spawn_v, o.command,
                    o.run_proxy)
          .receive([&](int64_t p) { pid = p; },
                   [&](const caf::error& e) {
                     err << "drover run: " << error_sentence(system, e) << '\n';
                   });
      if (pid > 0)
        code = platform::wait_exit_code(static_cast<unsigned long>(pid));
    }
    stop_engine(system, sup);
  }
  platform::remove_local(platform::control_socket_path());
  trace::close();
  log::shutdown();
  return code;
}

} // namespace

void set_tray_runner(tray_runner runner) {
  the_tray() = std::move(runner);
}

int run(int argc, const char* const* argv, std::ostream& out,
        std::ostream& err) {
  command_arguments().assign(argv + (argc > 0 ? 1 : 0), argv + argc);
  options o;
  CLI::App app{"Drover sends chosen applications' traffic through a SOCKS5 "
               "proxy, transparently.",
               "drover"};
  // A path such as "/tmp/x.toml" is an argument, not a Windows "/option".
  app.allow_windows_style_options(false);
  // --config and --trace may also follow a subcommand (subcommands made
  // below inherit this).
  app.fallthrough();
  app.set_version_flag("--version", version_line());
  app.add_option("--config", o.config_path,
                 "Config file (default: "
                     + platform::default_config_path().string() + ")");
  app.add_flag("--trace", o.trace,
               "Write the actor trace log (JSON lines) beside the log file");
  app.add_flag("--headless", o.headless,
               "Run the engine in the foreground without a tray (the "
               "default when there is no desktop)");
  auto* config_cmd = app.add_subcommand("config", "Work with the config file");
  config_cmd->require_subcommand(1);
  auto* check = config_cmd->add_subcommand(
      "check", "Validate a config file: prints \"ok\", or each error with its "
               "line and column");
  check->add_option("path", o.check_path,
                    "The file to check (default: --config or the default)");

  auto* defaults
      = config_cmd->add_subcommand("default", "Print the default config file");
  auto* run_cmd = app.add_subcommand(
      "run", "Start a program with all its traffic going through the proxy, "
             "from its first connection on; exits with the program's code");
  run_cmd->add_option("--proxy", o.run_proxy,
                      "Through the proxy with this name (default: the "
                      "first)");

  // Everything after `--` is the program for `run` and its arguments:
  // split it off before CLI11 sees it (CLI11 2.1 gives a subcommand no
  // arguments after `--`).
  int own_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view{argv[i]} == "--") {
      own_argc = i;
      o.command.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  auto* report_cmd = app.add_subcommand(
      "report", "Write one archive for a bug report: versions, the config "
                "(logins and passwords hidden), the status, the check and "
                "the end of the log");
  report_cmd->add_option("path", o.report_path,
                         "The archive (default: drover-report-DATE-TIME.zip "
                         "here)");
  report_cmd->add_flag("--no-check", o.report_no_check,
                       "Leave the proxy check out (it can take a minute)");
  auto* status_cmd = app.add_subcommand(
      "status", "Show the running Drover's state, counters, flows and recent "
                "events; exit code 1 when none is running");
  status_cmd->add_flag("--json", o.json, "Print JSON (stable field names)");
  status_cmd->add_flag("--follow,-f", o.follow,
                       "Then keep printing each event as it happens (with "
                       "--json also the counters every second), until "
                       "interrupted");
  std::string engine_command;
  for (auto [name, text] :
       {std::pair{"start", "Tell the running Drover to start proxying"},
        std::pair{"stop", "Tell the running Drover to stop proxying (it "
                          "keeps running, capturing nothing)"},
        std::pair{"retry", "Tell the running Drover to leave Failed and "
                           "start again"},
        std::pair{"quit", "Tell the running Drover engine to stop and end, "
                          "and wait until it has (the uninstallers use "
                          "it)"}})
    app.add_subcommand(name, text)
        ->callback(
            [&engine_command, n = std::string{name}] { engine_command = n; });
  auto* unblock_cmd = app.add_subcommand(
      "unblock", "After Drover's engine was killed while proxying: remove what "
                 "it left to keep the chosen programs offline, so they go "
                 "direct (the uninstallers use it); refused while an engine "
                 "runs");
  // Test hook, hidden: `drover fault panic|driver-lost` (fault-injection
  // builds only; others answer that it is not built in).
  std::string fault;
  app.add_subcommand("fault", "")
      ->group("")
      ->add_option("what", fault)
      ->required();
  // Hidden, for the Windows installer (elevated): makes the engine's own
  // folders as the engine does before its first log line, so that no
  // standard user can make them first (%PROGRAMDATA%\Drover).
  auto* prepare_cmd = app.add_subcommand("prepare-folders", "")->group("");
  // Hidden, for updates on Windows (app/finish_update.hpp): the helper the
  // tray leaves, and what it tells the tray it starts again.
  auto* finish_cmd = app.add_subcommand("finish-update", "")->group("");
  finish_cmd->add_option("--installer", o.update.installer)->required();
  finish_cmd->add_option("--sha256", o.update.sha256)->required();
  finish_cmd->add_option("--to-version", o.update.version)->required();
  finish_cmd->add_option("--restart", o.update.restart)->required();
  finish_cmd->add_option("--wait-pid", o.update.wait_pid);
  finish_cmd->add_flag("--stopped", o.update.start_stopped);
  app.add_option("--after-update", o.after_update)->group("");
  app.add_flag("--start-stopped", o.start_stopped)->group("");
  auto* check_cmd = app.add_subcommand(
      "check", "Check the proxy: reachable, SOCKS5, login, a TCP connection "
               "through it and a UDP round trip through its relay (what "
               "Discord voice needs); exit code 0 only when all pass");
  check_cmd->add_flag("--json", o.json, "Print JSON (stable field names)");
  check_cmd->add_option("--tcp-target", o.tcp_target,
                        "HOST:PORT to CONNECT to through the proxy (default: "
                        "[check] tcp_target, discord.com:443)");
  check_cmd->add_option("--udp-target", o.udp_target,
                        "STUN server HOST:PORT to reach through the UDP relay "
                        "(default: [check] udp_target)");
  check_cmd->add_option("--timeout", o.check_timeout,
                        "Time allowed for each part (default 5s)");
  check_cmd->add_option("--proxy", o.check_proxy,
                        "Check only the [[proxy]] of this name (default: "
                        "each proxy in turn; JSON: an array when several)");
  try {
    app.parse(own_argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version are "errors" with exit code 0 in CLI11.
    return app.exit(e, out, err) == 0 ? exit_ok : exit_failure;
  }

  if (check->parsed())
    return config_check(o, out, err);
  if (defaults->parsed()) {
    out << config::serialize(config::settings{});
    return exit_ok;
  }
  if (status_cmd->parsed())
    return print_engine_status(o.json, o.follow, out, err);
  if (check_cmd->parsed())
    return check_proxy(o, out, err);
  if (report_cmd->parsed())
    return write_report({o.report_path, config_path_of(o),
                         platform::default_log_dir(), version_line(),
                         !o.report_no_check},
                        out, err);
  if (prepare_cmd->parsed()) {
    std::vector<std::string> moved;
    if (auto problem = platform::secure_engine_folders(moved)) {
      err << "drover: " << *problem << '\n';
      return exit_failure;
    }
    for (auto& what : moved)
      out << what << '\n';
    out << platform::default_log_dir().string() << '\n';
    return exit_ok;
  }
  if (finish_cmd->parsed())
    return finish_update(o.update, err);
  if (unblock_cmd->parsed()) {
    if (auto rc = capture_here_or_elevate(err))
      return *rc;
    // Held until the process ends: no engine starts meanwhile.
    if (open_control(err) == platform::invalid_socket) {
      err << "drover unblock: nothing was removed; while Drover runs, "
             "choose Stop in its tray menu (or run `drover stop`) to let "
             "the chosen programs go direct\n";
      return exit_failure;
    }
    auto code = unblock(out, err);
    platform::remove_local(platform::control_socket_path());
    return code;
  }
  if (engine_command == "quit")
    return quit_engine(out, err);
  if (!engine_command.empty())
    return send_engine_command(engine_command, out, err);
  if (!fault.empty())
    return send_engine_command("fault " + fault, out, err);
  if (run_cmd->parsed()) {
    if (o.command.empty()) {
      err << "drover run: name the program to start: drover run -- CMD "
             "[ARGS...]\n";
      return exit_failure;
    }
    return run_command(o, err);
  }
  if (!o.headless && the_tray() && has_display())
    return the_tray()(tray_request{config_path_of(o).string(), o.trace,
                                   o.after_update, o.start_stopped});
  return headless(o, err);
}

} // namespace drover::cli
