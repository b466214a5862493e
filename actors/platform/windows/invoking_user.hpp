#pragma once
// The user an elevated Drover works for, on Windows: whose unelevated
// program asked for administrator rights. Windows' elevation (the AppInfo
// service) makes the asking program the elevated one's parent; a standard
// user who typed an administrator's password asked for another account's
// rights, and it is still their tray, their config and their program that
// Drover serves. Linux's counterpart is SUDO_UID / PKEXEC_UID.
//
// What it is used for: the control pipe admits that user; the config (in
// their %APPDATA%) is read and written with their rights, never the
// administrator's, so a junction they planted gains them nothing; and
// `drover run` starts their program with their unelevated token.

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <memory>
#include <optional>
#include <string>

namespace drover::platform::windows_port {

struct invoking_user {
  std::shared_ptr<void> impersonation; // a token to act as them
  std::shared_ptr<void> primary;       // a token to start their programs
  std::wstring sid;                    // S-1-5-21-...
  std::string source;                  // where it was found, for the log
};

/// The unelevated user behind the program `pid` (a parent that is still the
/// same process, created before `not_after`), or nothing when that program
/// is elevated too, gone, or unreadable.
std::optional<invoking_user> unelevated_user_of(DWORD pid, FILETIME not_after);

/// This process's invoking user, found once: its parent when that is not
/// elevated; else the desktop shell's user (`drover run` typed in an
/// administrator's Command Prompt). Nothing when this process is not
/// elevated (it works as itself), or when no unelevated program stands
/// behind it (UAC off, a service): it then works as itself too.
const invoking_user* the_invoking_user();

/// Whether this process runs elevated (an administrator's full token).
bool process_elevated();

/// The control pipe's access list (SDDL, without its integrity label):
/// full access for SYSTEM and administrators; read and write for the
/// engine's own user and for the user it works for (either may be empty).
/// `who` gets the list in words, for the log.
std::wstring control_pipe_dacl(const std::wstring& own_sid,
                               const std::wstring& invoking_sid,
                               std::string& who);

/// start_suspended_as's error when the program came out elevated (Windows'
/// ERROR_ELEVATION_REQUIRED, which not every SDK header names).
constexpr DWORD error_started_elevated = 740;

/// Starts `command_line` suspended as `user`, with their unelevated token
/// and their environment, or as this process with no user. Checks that the
/// program did not come out elevated when `user` was given (it is ended if
/// it did). False with `error` (a Windows error code) when it did not start.
bool start_suspended_as(const invoking_user* user, std::wstring& command_line,
                        PROCESS_INFORMATION& started, DWORD& error);

/// OpenProcess, again with SeDebugPrivilege (which administrators hold,
/// off) when refused: a program started as the user Drover works for may
/// belong to another account than the engine's.
HANDLE open_process(DWORD access, DWORD pid);

/// Why `drover run` beside the engine may not put `pid` in place for the
/// process `caller` (the pipe client, by the kernel's word): it must be
/// the caller or the caller's child (younger than it: Windows reuses
/// process numbers), as the same user. Empty when it may.
std::string why_not_joinable(uint32_t pid, uint32_t caller);

/// Lets `sid` look at this process (its image, and its token's elevation)
/// and wait for its end: the control pipe's clients check their server that
/// way, and a user served by another account's engine could not otherwise.
bool let_look_at_this_process(const std::wstring& sid);

/// Acts as `user` on this thread until destroyed (impersonation); with no
/// user, does nothing. failed(): the identity could not be taken, and the
/// caller must not go on with its own.
class acting_as {
public:
  explicit acting_as(const invoking_user* user);
  ~acting_as();
  acting_as(const acting_as&) = delete;
  acting_as& operator=(const acting_as&) = delete;
  bool failed() const { return failed_; }

private:
  bool active_ = false;
  bool failed_ = false;
};

} // namespace drover::platform::windows_port
