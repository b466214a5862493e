#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace drover::platform {

/// A running process, as procscan sees it.
struct process_entry {
  uint32_t pid = 0;
  uint32_t parent_pid = 0;
  std::string name; // the executable's file name ("Discord.exe", "Discord")
  std::string path; // the executable's full path; empty when hidden
  /// Linux: the command name (what it was started as, up to 15
  /// characters: a symlink's or a script's name); empty on Windows.
  std::string command;
  /// A process of the user (or users) this engine serves: only those may
  /// be targets by name, never another user's or a system daemon.
  bool served = true;
  /// Its creation time (Linux: its start in clock ticks since boot;
  /// Windows: GetProcessTimes'; 0 when unknown): a reused process ID
  /// differs here.
  uint64_t created = 0;
};

/// What a process is, for deciding whether it is a target the moment it
/// opens its first socket (Windows).
struct process_identity {
  std::string image;    // its executable's file name ("Discord.exe")
  std::string path;     // its executable's full path
  uint64_t created = 0; // its creation time (a reused ID differs here)
  bool served = false;  // runs as the user this engine serves
};

/// Looks a running process up (Windows: QueryFullProcessImageNameW, its
/// creation time, its token's user against the engine's). Nothing when it
/// is gone or cannot be opened. Linux: nothing (the kernel decides).
std::optional<process_identity> identify_process(uint32_t pid);

/// The ancestors of `pid`, its parent first, at most `depth` of them, as
/// list_processes() would show them (Windows: for rules with `children`;
/// Linux: nothing, the kernel program looks itself).
std::vector<process_entry> ancestors_of(uint32_t pid, int depth);

/// Every process this user may see. Windows: Toolhelp32; Linux: /proc
/// (the executable's base name, or the command name when it is hidden),
/// only those in this process's network namespace (where its capture
/// rules apply).
/// Nothing when the list cannot be read (no descriptor left, say): not the
/// same as no process.
std::optional<std::vector<process_entry>> list_processes();

/// The process that owns a socket.
struct socket_owner {
  uint32_t pid = 0;
  std::string name;
};

/// Which processes own the local sockets at `local_ip` (host byte order) and
/// these ports, for protocol 6 (TCP) or 17 (UDP). Ports without a visible
/// owner are left out. Reads the OS's socket tables: for the flow list of
/// the status window (about once a second), never on the packet path.
std::map<uint16_t, socket_owner>
socket_owners(uint8_t protocol, uint32_t local_ip,
              const std::vector<uint16_t>& ports);

/// Makes SIGINT/SIGTERM/SIGHUP (Ctrl+C, a closed terminal; console close
/// on Windows) wait for wait_for_termination() instead of killing the
/// process. Call first thing in main, before any thread starts, so every
/// thread inherits it.
void capture_termination_requests();

/// Blocks until a termination request arrives, from the OS or from
/// request_termination().
void wait_for_termination();

/// Wakes wait_for_termination() from any thread.
void request_termination();

/// Files and folders this process creates from now on are its owner's
/// only (Linux: file mode mask 077): the engine's logs, trace log and crash
/// reports say which programs run and where they connect. Windows:
/// nothing to do (the folders' access lists decide).
void keep_new_files_private();

/// Raises the open-file limit as far as allowed: each proxied TCP flow holds
/// four descriptors (two sockets, each with a reader and a writer).
void raise_open_file_limit();

/// The current open-file limit, or 0 where the OS has none per process.
size_t open_file_limit();

/// Why this process cannot run the capture engine (what to do, for the
/// user), or empty when it can: Linux needs root, Windows an administrator.
std::string capture_privilege_problem();

/// This process's ID.
unsigned long current_process_id();

/// `t` in the local calendar (localtime_r / localtime_s).
std::tm local_time(std::time_t t);

/// The operating system, as a user names it ("Linux", "Windows"): crash
/// reports say where they came from.
const char* system_name();

/// Windows: a GUI program (drover.exe is one, for the tray) has no console;
/// when started from one (`drover status` in a Command Prompt), standard
/// output and error go to that console. Handles the parent already gave
/// (pipes, files) are kept. Linux: nothing to do.
void attach_parent_console();

/// What run_elevated returns when the user turned the prompt down (the
/// same code pkexec uses on Linux).
constexpr int elevation_cancelled = 126;

/// Windows: runs this executable again with `args`, as administrator (the
/// UAC prompt), and waits for it to end: its exit code, elevation_cancelled
/// when the user said no, or -1 with `error` set. Linux: -1 (the desktop
/// asks through pkexec, a terminal through sudo).
int run_elevated(const std::vector<std::string>& args, std::string& error);

/// `drover run` beside a running engine: the program, ready but not yet
/// running, so that the engine puts it in place before its first
/// instruction. Linux: this very process, which becomes the program (exec:
/// its ID, cgroup and standard streams kept; as root through sudo, as the
/// user who asked). Windows, where a process cannot become another
/// program: a suspended child with this process's standard streams.
class waiting_program {
public:
  /// Ready, or nothing with `error` set.
  static std::unique_ptr<waiting_program>
  prepare(const std::vector<std::string>& argv, std::string& error);
  /// Never run: Windows ends the suspended child.
  virtual ~waiting_program() = default;
  /// The process to put in place.
  virtual unsigned long pid() const = 0;
  /// Lets it run: its exit code, or -1 with `error` when it could not
  /// (Linux returns only then).
  virtual int run(std::string& error) = 0;
};

/// Waits for a child started by capture_session::spawn_target to end: its
/// exit code (128 + the signal on Linux when killed), or -1.
int wait_exit_code(unsigned long pid);

} // namespace drover::platform
