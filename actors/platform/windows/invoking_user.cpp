#include "actors/platform/windows/invoking_user.hpp"

#include <tlhelp32.h>
// After windows.h.
#include <aclapi.h>
#include <sddl.h>
#include <userenv.h>

#include "actors/platform/windows/win32.hpp"

namespace drover::platform::windows_port {

namespace {

std::shared_ptr<void> owned(HANDLE h) {
  return h == nullptr ? nullptr : std::shared_ptr<void>{h, CloseHandle};
}

bool elevated(HANDLE token) {
  TOKEN_ELEVATION elevation{};
  DWORD size = 0;
  return GetTokenInformation(token, TokenElevation, &elevation,
                             sizeof elevation, &size)
         && elevation.TokenIsElevated != 0;
}

std::wstring user_sid(HANDLE token) {
  DWORD size = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  if (size == 0)
    return {};
  auto buf = std::make_unique<char[]>(size);
  wchar_t* text = nullptr;
  if (!GetTokenInformation(token, TokenUser, buf.get(), size, &size)
      || !ConvertSidToStringSidW(
          reinterpret_cast<TOKEN_USER*>(buf.get())->User.Sid, &text))
    return {};
  std::wstring sid{text};
  LocalFree(text);
  return sid;
}

DWORD parent_of(DWORD pid) {
  HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snapshot == INVALID_HANDLE_VALUE)
    return 0;
  PROCESSENTRY32W entry{};
  entry.dwSize = sizeof entry;
  DWORD parent = 0;
  for (BOOL more = Process32FirstW(snapshot, &entry); more;
       more = Process32NextW(snapshot, &entry))
    if (entry.th32ProcessID == pid) {
      parent = entry.th32ParentProcessID;
      break;
    }
  CloseHandle(snapshot);
  return parent;
}

// Turns SeDebugPrivilege (which an administrator holds, disabled) on or
// off for this process: another account's token may need it to be read.
bool set_debug_privilege(bool on) {
  HANDLE own = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &own))
    return false;
  TOKEN_PRIVILEGES privileges{};
  privileges.PrivilegeCount = 1;
  privileges.Privileges[0].Attributes = on ? SE_PRIVILEGE_ENABLED : 0;
  bool ok
      = LookupPrivilegeValueW(nullptr, L"SeDebugPrivilege",
                              &privileges.Privileges[0].Luid)
        && AdjustTokenPrivileges(own, FALSE, &privileges, 0, nullptr, nullptr)
        && GetLastError() == ERROR_SUCCESS;
  CloseHandle(own);
  return ok;
}

// The token of `pid` (query and duplicate), if it is still the process
// made no later than `not_after`.
std::shared_ptr<void> token_of(DWORD pid, FILETIME not_after) {
  bool denied = false;
  auto open = [&]() -> HANDLE {
    HANDLE process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    denied = process == nullptr && GetLastError() == ERROR_ACCESS_DENIED;
    if (process == nullptr)
      return nullptr;
    FILETIME created{}, ended{}, kernel{}, user{};
    HANDLE token = nullptr;
    // A program made after `not_after` has taken a gone parent's ID.
    if (!GetProcessTimes(process, &created, &ended, &kernel, &user)
        || CompareFileTime(&created, &not_after) > 0
        || !OpenProcessToken(process, TOKEN_QUERY | TOKEN_DUPLICATE, &token)) {
      denied = GetLastError() == ERROR_ACCESS_DENIED;
      token = nullptr;
    }
    CloseHandle(process);
    return token;
  };
  HANDLE token = open();
  if (token == nullptr && denied && set_debug_privilege(true)) {
    token = open();
    set_debug_privilege(false);
  }
  return owned(token);
}

} // namespace

HANDLE open_process(DWORD access, DWORD pid) {
  HANDLE process = OpenProcess(access, FALSE, pid);
  if (process == nullptr && GetLastError() == ERROR_ACCESS_DENIED
      && set_debug_privilege(true)) {
    process = OpenProcess(access, FALSE, pid);
    set_debug_privilege(false);
  }
  return process;
}

bool process_elevated() {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
    return false;
  bool yes = elevated(token);
  CloseHandle(token);
  return yes;
}

std::optional<invoking_user> unelevated_user_of(DWORD pid, FILETIME not_after) {
  if (pid == 0 || pid == GetCurrentProcessId())
    return std::nullopt;
  auto token = token_of(pid, not_after);
  if (token == nullptr || elevated(token.get()))
    return std::nullopt;
  HANDLE impersonation = nullptr, primary = nullptr;
  if (!DuplicateTokenEx(token.get(), TOKEN_ALL_ACCESS, nullptr,
                        SecurityImpersonation, TokenImpersonation,
                        &impersonation))
    return std::nullopt;
  invoking_user user;
  user.impersonation = owned(impersonation);
  if (!DuplicateTokenEx(token.get(), TOKEN_ALL_ACCESS, nullptr,
                        SecurityImpersonation, TokenPrimary, &primary))
    return std::nullopt;
  user.primary = owned(primary);
  user.sid = user_sid(token.get());
  if (user.sid.empty())
    return std::nullopt;
  return user;
}

const invoking_user* the_invoking_user() {
  static const std::optional<invoking_user> found
      = []() -> std::optional<invoking_user> {
    if (!process_elevated())
      return std::nullopt;
    FILETIME created{}, ended{}, kernel{}, user{};
    GetProcessTimes(GetCurrentProcess(), &created, &ended, &kernel, &user);
    if (auto parent
        = unelevated_user_of(parent_of(GetCurrentProcessId()), created)) {
      parent->source = "the program that asked for administrator rights";
      return parent;
    }
    // An elevated parent (an administrator's Command Prompt): the user of
    // the desktop, if their shell runs unelevated.
    DWORD shell = 0;
    if (HWND window = GetShellWindow(); window != nullptr)
      GetWindowThreadProcessId(window, &shell);
    FILETIME now{};
    GetSystemTimeAsFileTime(&now);
    if (auto desktop = unelevated_user_of(shell, now)) {
      desktop->source = "the desktop's shell";
      return desktop;
    }
    return std::nullopt;
  }();
  return found ? &*found : nullptr;
}

std::wstring control_pipe_dacl(const std::wstring& own_sid,
                               const std::wstring& invoking_sid,
                               std::string& who) {
  std::wstring dacl = L"D:P(A;;GA;;;SY)(A;;GA;;;BA)";
  who = "administrators";
  auto admit = [&](const std::wstring& sid) {
    // Only a SID's own characters: nothing that could close the entry.
    if (sid.size() < 4 || sid.compare(0, 2, L"S-") != 0
        || sid.find_first_not_of(L"S-0123456789") != std::wstring::npos
        || dacl.find(L";" + sid + L")") != std::wstring::npos)
      return;
    dacl += L"(A;;GRGW;;;" + sid + L")";
    who += ", " + to_utf8(sid);
  };
  admit(own_sid);
  admit(invoking_sid);
  return dacl;
}

bool start_suspended_as(const invoking_user* user, std::wstring& command_line,
                        PROCESS_INFORMATION& started, DWORD& error) {
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  started = PROCESS_INFORMATION{};
  if (user == nullptr) {
    if (CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, FALSE,
                       CREATE_SUSPENDED, nullptr, nullptr, &startup, &started))
      return true;
    error = GetLastError();
    return false;
  }
  HANDLE token = user->primary.get();
  void* environment = nullptr;
  if (!CreateEnvironmentBlock(&environment, token, FALSE))
    environment = nullptr; // this process's environment, then
  DWORD flags = CREATE_SUSPENDED
                | (environment != nullptr ? CREATE_UNICODE_ENVIRONMENT : 0);
  // CreateProcessAsUserW takes a token that is not this process's own only
  // with SeAssignPrimaryTokenPrivilege (services have it, administrators
  // do not); CreateProcessWithTokenW asks SeImpersonatePrivilege, which
  // elevated administrators have, and the Secondary Logon service.
  bool ok = CreateProcessAsUserW(token, nullptr, command_line.data(), nullptr,
                                 nullptr, FALSE, flags, environment, nullptr,
                                 &startup, &started)
            != FALSE;
  if (!ok && GetLastError() == ERROR_PRIVILEGE_NOT_HELD)
    ok = CreateProcessWithTokenW(token, LOGON_WITH_PROFILE, nullptr,
                                 command_line.data(), flags, environment,
                                 nullptr, &startup, &started)
         != FALSE;
  error = ok ? ERROR_SUCCESS : GetLastError();
  if (environment != nullptr)
    DestroyEnvironmentBlock(environment);
  if (!ok)
    return false;
  // Never a program elevated where the user's own rights were meant.
  HANDLE child = nullptr;
  bool unelevated = OpenProcessToken(started.hProcess, TOKEN_QUERY, &child)
                    && !elevated(child);
  if (child != nullptr)
    CloseHandle(child);
  if (!unelevated) {
    TerminateProcess(started.hProcess, 1);
    CloseHandle(started.hThread);
    CloseHandle(started.hProcess);
    started = PROCESS_INFORMATION{};
    error = error_started_elevated;
    return false;
  }
  return true;
}

namespace {

// Adds an entry letting `who` have `access` to the kernel object `object`.
bool grant(HANDLE object, PSID who, DWORD access) {
  PACL dacl = nullptr, merged = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  bool ok = GetSecurityInfo(object, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION,
                            nullptr, nullptr, &dacl, nullptr, &descriptor)
            == ERROR_SUCCESS;
  if (ok) {
    EXPLICIT_ACCESSW entry{};
    entry.grfAccessPermissions = access;
    entry.grfAccessMode = GRANT_ACCESS;
    entry.grfInheritance = NO_INHERITANCE;
    entry.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    entry.Trustee.TrusteeType = TRUSTEE_IS_USER;
    entry.Trustee.ptstrName = static_cast<LPWSTR>(who);
    ok = SetEntriesInAclW(1, &entry, dacl, &merged) == ERROR_SUCCESS
         && SetSecurityInfo(object, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION,
                            nullptr, nullptr, merged, nullptr)
                == ERROR_SUCCESS;
  }
  if (merged != nullptr)
    LocalFree(merged);
  if (descriptor != nullptr)
    LocalFree(descriptor);
  return ok;
}

} // namespace

bool let_look_at_this_process(const std::wstring& sid) {
  PSID who = nullptr;
  if (!ConvertStringSidToSidW(sid.c_str(), &who))
    return false;
  // The process: its image and its end. Its token: whether it is elevated
  // (the clients' check opens it for TOKEN_QUERY, which an administrator
  // account's token would refuse another user).
  bool ok = grant(GetCurrentProcess(), who,
                  PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE);
  HANDLE token = nullptr;
  ok = ok
       && OpenProcessToken(GetCurrentProcess(), READ_CONTROL | WRITE_DAC,
                           &token)
       && grant(token, who, TOKEN_QUERY);
  if (token != nullptr)
    CloseHandle(token);
  LocalFree(who);
  return ok;
}

acting_as::acting_as(const invoking_user* user) {
  if (user == nullptr)
    return;
  active_ = SetThreadToken(nullptr, user->impersonation.get()) != FALSE;
  failed_ = !active_;
}

acting_as::~acting_as() {
  if (active_)
    RevertToSelf();
}

} // namespace drover::platform::windows_port
