#pragma once

// `drover status|start|stop|retry|quit|fault`: the command line talking to
// the running engine over its control socket. Each returns the process's
// exit code (cli::exit_code) and says on `err` when no Drover runs, when
// what answers is not Drover (platform::local_server_is_drover), or when
// Drover runs but keeps silent past its time (a stuck engine; none of
// these commands hangs on one).

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace drover::cli {

/// `drover status [--json] [--follow]`.
int print_engine_status(bool json, bool follow, std::ostream& out,
                        std::ostream& err);

/// `drover run [--proxy NAME] -- CMD` beside a running engine: asks it to
/// put CMD in place as a target (through the proxy NAME; "": the first)
/// before CMD runs its first instruction (Linux: this very process, which
/// then becomes CMD; Windows: CMD as a suspended child), then lets it run;
/// its exit code is returned. Nothing when no Drover runs (nothing said:
/// the caller starts an engine of its own); otherwise the exit code (one
/// that runs but cannot be used, not this user's or busy, is said so),
/// with what went wrong said on `err` as a sentence. `own_config`: the
/// caller named a config file, which the running engine does not read
/// (said).
std::optional<int> run_beside_engine(const std::vector<std::string>& command,
                                     const std::string& proxy, bool own_config,
                                     std::ostream& err);

/// The running engine's whole answer to `command`; nothing (and nothing
/// said) when none runs, what answers is not Drover, or Drover runs but
/// did not answer in time (then `silent`, if given, is set).
std::optional<std::string> quiet_answer(const std::string& command,
                                        bool* silent = nullptr);

/// `drover quit`: returns once the engine has ended (its rules, kernel
/// programs and cgroup gone; the packages' removal relies on it), or
/// says it is still stopping after 20 s.
int quit_engine(std::ostream& out, std::ostream& err);

/// One command line (start, stop, retry, fault WHAT); ok when answered
/// "ok" (a fault's answer is printed whatever it says).
int send_engine_command(const std::string& command, std::ostream& out,
                        std::ostream& err);

} // namespace drover::cli
