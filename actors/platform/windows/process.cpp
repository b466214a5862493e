#include "actors/platform/process.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h, which it needs (a separate block keeps clang-format from
// sorting it first).
#include <shellapi.h>
#include <shlobj.h>
#include <tlhelp32.h>

#include "actors/platform/windows/invoking_user.hpp"
#include "actors/platform/windows/win32.hpp"

namespace drover::platform {

namespace {

HANDLE termination_event() {
  static HANDLE event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  return event;
}

BOOL WINAPI on_console_event(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      SetEvent(termination_event());
      return TRUE;
    default:
      return FALSE;
  }
}

} // namespace

void capture_termination_requests() {
  termination_event();
  SetConsoleCtrlHandler(on_console_event, TRUE);
}

void wait_for_termination() {
  WaitForSingleObject(termination_event(), INFINITE);
}

void request_termination() {
  SetEvent(termination_event());
}

void keep_new_files_private() {}

void raise_open_file_limit() {
  // Windows has no per-process descriptor limit to raise.
}

size_t open_file_limit() {
  return 0;
}

std::optional<std::vector<process_entry>> list_processes() {
  std::vector<process_entry> out;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE)
    return std::nullopt;
  PROCESSENTRY32W e;
  e.dwSize = sizeof e;
  for (BOOL ok = Process32FirstW(snap, &e); ok; ok = Process32NextW(snap, &e)) {
    process_entry p;
    p.pid = e.th32ProcessID;
    p.parent_pid = e.th32ParentProcessID;
    int n = WideCharToMultiByte(CP_UTF8, 0, e.szExeFile, -1, nullptr, 0,
                                nullptr, nullptr);
    if (n > 1) {
      p.name.resize(static_cast<size_t>(n - 1));
      WideCharToMultiByte(CP_UTF8, 0, e.szExeFile, -1, p.name.data(), n,
                          nullptr, nullptr);
    }
    // Another user's (or a service's) process is never a target.
    auto id = identify_process(p.pid);
    p.served = id && id->served;
    if (id) {
      p.path = id->path;
      p.created = id->created; // a reused ID differs here (add_target)
    }
    out.push_back(std::move(p));
  }
  CloseHandle(snap);
  return out;
}

std::vector<process_entry> ancestors_of(uint32_t pid, int depth) {
  std::vector<process_entry> out;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE)
    return out;
  std::map<uint32_t, uint32_t> parent;
  PROCESSENTRY32W e;
  e.dwSize = sizeof e;
  for (BOOL ok = Process32FirstW(snap, &e); ok; ok = Process32NextW(snap, &e))
    parent[e.th32ProcessID] = e.th32ParentProcessID;
  CloseHandle(snap);
  auto self = identify_process(pid);
  uint64_t child_created = self ? self->created : 0;
  for (int i = 0; i < depth; ++i) {
    auto it = parent.find(pid);
    if (it == parent.end() || it->second <= 4 || it->second == pid)
      break;
    pid = it->second;
    auto id = identify_process(pid);
    if (!id)
      break; // gone: its ID may already be another program's
    // Made after its child: the parent is gone and its ID is another
    // program's (Windows reuses IDs), which is no ancestor.
    if (child_created != 0 && id->created > child_created)
      break;
    child_created = id->created;
    process_entry p;
    p.pid = pid;
    p.name = id->image;
    p.path = id->path;
    p.created = id->created;
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

// The user a process runs as: its token's SID (an administrator's elevated
// token keeps the signed-in user's SID, so the engine's own is the served
// user's).
std::vector<uint8_t> token_user(HANDLE process) {
  HANDLE token = nullptr;
  if (!OpenProcessToken(process, TOKEN_QUERY, &token))
    return {};
  DWORD size = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<uint8_t> buf(size);
  bool ok = size > 0
            && GetTokenInformation(token, TokenUser, buf.data(), size, &size);
  CloseHandle(token);
  if (!ok)
    return {};
  auto* sid = static_cast<uint8_t*>(
      reinterpret_cast<TOKEN_USER*>(buf.data())->User.Sid);
  return {sid, sid + GetLengthSid(sid)};
}

} // namespace

namespace windows_port {

std::string why_not_joinable(uint32_t pid, uint32_t caller) {
  auto who = "process " + std::to_string(pid);
  HANDLE process = open_process(PROCESS_QUERY_LIMITED_INFORMATION, pid);
  HANDLE asker = open_process(PROCESS_QUERY_LIMITED_INFORMATION, caller);
  auto created = [](HANDLE h) {
    FILETIME c{}, e{}, k{}, u{};
    return h != nullptr && GetProcessTimes(h, &c, &e, &k, &u)
               ? (uint64_t{c.dwHighDateTime} << 32) | c.dwLowDateTime
               : uint64_t{0};
  };
  uint32_t parent = 0;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap != INVALID_HANDLE_VALUE) {
    PROCESSENTRY32W e{};
    e.dwSize = sizeof e;
    for (bool more = Process32FirstW(snap, &e); more;
         more = Process32NextW(snap, &e))
      if (e.th32ProcessID == pid)
        parent = e.th32ParentProcessID;
    CloseHandle(snap);
  }
  // A child names its parent by number only, which Windows reuses: the
  // child must also be younger than the caller who claims it.
  std::string why;
  if (process == nullptr || asker == nullptr)
    why = who + " is not running";
  else if (pid != caller
           && (parent != caller || created(process) < created(asker)))
    why = who
          + " is neither yours nor a child of yours: only those are put "
            "in place";
  else if (auto user = token_user(process);
           user.empty() || user != token_user(asker))
    why = who
          + " runs as another user than the one asking: only your own "
            "programs are put in place";
  if (process != nullptr)
    CloseHandle(process);
  if (asker != nullptr)
    CloseHandle(asker);
  return why;
}

} // namespace windows_port

std::optional<process_identity> identify_process(uint32_t pid) {
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h == nullptr)
    return std::nullopt;
  process_identity id;
  wchar_t path[1024];
  DWORD n = 1024;
  if (QueryFullProcessImageNameW(h, 0, path, &n)) {
    std::wstring full{path, n};
    id.path = windows_port::to_utf8(full);
    id.image
        = windows_port::to_utf8(full.substr(full.find_last_of(L"\\/") + 1));
  }
  FILETIME created{}, exited{}, kernel{}, user{};
  if (GetProcessTimes(h, &created, &exited, &kernel, &user))
    id.created
        = (uint64_t{created.dwHighDateTime} << 32) | created.dwLowDateTime;
  static const auto own = token_user(GetCurrentProcess());
  id.served = !own.empty() && token_user(h) == own;
  CloseHandle(h);
  if (id.image.empty())
    return std::nullopt;
  return id;
}

std::map<uint16_t, socket_owner> socket_owners(uint8_t, uint32_t,
                                               const std::vector<uint16_t>&) {
  // Windows attributes flows from WinDivert's SOCKET layer when they start
  // (the PID is in the flow itself), so there is nothing to look up here.
  return {};
}

std::string capture_privilege_problem() {
  if (IsUserAnAdmin())
    return {};
  return "Drover needs administrator rights to capture traffic (WinDivert): "
         "start it with \"Run as administrator\"";
}

void attach_parent_console() {
  auto has = [](DWORD which) {
    HANDLE h = GetStdHandle(which);
    return h != nullptr && h != INVALID_HANDLE_VALUE
           && GetFileType(h) != FILE_TYPE_UNKNOWN;
  };
  bool out = has(STD_OUTPUT_HANDLE), err = has(STD_ERROR_HANDLE);
  if ((out && err) || !AttachConsole(ATTACH_PARENT_PROCESS))
    return;
  if (!out && std::freopen("CONOUT$", "w", stdout) == nullptr)
    return;
  if (!err)
    std::freopen("CONOUT$", "w", stderr);
}

int run_elevated(const std::vector<std::string>& args, std::string& error) {
  auto params = windows_port::command_line(args);
  wchar_t exe[32768];
  auto n = GetModuleFileNameW(nullptr, exe, 32768);
  if (n == 0 || n >= 32768) {
    error = "cannot find this program's own path";
    return -1;
  }
  SHELLEXECUTEINFOW info{};
  info.cbSize = sizeof info;
  info.fMask = SEE_MASK_NOCLOSEPROCESS | SEE_MASK_NOASYNC;
  info.lpVerb = L"runas";
  info.lpFile = exe;
  info.lpParameters = params.c_str();
  info.nShow = SW_HIDE;
  if (!ShellExecuteExW(&info)) {
    auto code = GetLastError();
    if (code == ERROR_CANCELLED)
      return elevation_cancelled;
    error = "cannot start Drover as administrator: "
            + windows_port::error_text(code);
    return -1;
  }
  if (info.hProcess == nullptr) {
    error = "Windows started Drover as administrator without a process "
            "handle to wait on";
    return -1;
  }
  WaitForSingleObject(info.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(info.hProcess, &code);
  CloseHandle(info.hProcess);
  return static_cast<int>(code);
}

namespace {

// A Windows process cannot become another program in place: the program
// is a child started suspended, put in place while it has run nothing.
class suspended_child final : public waiting_program {
public:
  explicit suspended_child(PROCESS_INFORMATION pi) : pi_(pi) {}
  ~suspended_child() override {
    if (!ran_)
      TerminateProcess(pi_.hProcess, 1);
    CloseHandle(pi_.hThread);
    CloseHandle(pi_.hProcess);
  }
  unsigned long pid() const override { return pi_.dwProcessId; }
  int run(std::string& error) override {
    ran_ = true;
    DWORD code = 0;
    if (ResumeThread(pi_.hThread) == static_cast<DWORD>(-1)
        || WaitForSingleObject(pi_.hProcess, INFINITE) != WAIT_OBJECT_0
        || !GetExitCodeProcess(pi_.hProcess, &code)) {
      error = windows_port::error_text(GetLastError());
      return -1;
    }
    return static_cast<int>(code);
  }

private:
  PROCESS_INFORMATION pi_;
  bool ran_ = false;
};

} // namespace

std::unique_ptr<waiting_program>
waiting_program::prepare(const std::vector<std::string>& argv,
                         std::string& error) {
  auto line = windows_port::command_line(argv);
  // This process's standard streams, as a shell hands them on (a console,
  // or files and pipes when redirected); nothing else is inherited.
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  HANDLE streams[3]
      = {GetStdHandle(STD_INPUT_HANDLE), GetStdHandle(STD_OUTPUT_HANDLE),
         GetStdHandle(STD_ERROR_HANDLE)};
  // (Each once: the list refuses a handle twice, and standard output and
  // error are often one.)
  std::vector<HANDLE> inherited;
  for (HANDLE h : streams)
    if (h != nullptr && h != INVALID_HANDLE_VALUE
        && std::find(inherited.begin(), inherited.end(), h) == inherited.end()
        && SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT))
      inherited.push_back(h);
  startup.hStdInput = streams[0];
  startup.hStdOutput = streams[1];
  startup.hStdError = streams[2];
  SIZE_T size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
  std::vector<char> list_storage(size > 0 ? size : 1);
  STARTUPINFOEXW extended{};
  extended.StartupInfo = startup;
  extended.StartupInfo.cb = sizeof extended;
  bool listed
      = !inherited.empty()
        && InitializeProcThreadAttributeList(
            reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data()),
            1, 0, &size)
        && UpdateProcThreadAttribute(
            reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data()),
            0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited.data(),
            inherited.size() * sizeof(HANDLE), nullptr, nullptr);
  if (listed)
    extended.lpAttributeList
        = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data());
  PROCESS_INFORMATION pi{};
  BOOL ok = CreateProcessW(
      nullptr, line.data(), nullptr, nullptr, listed ? TRUE : FALSE,
      CREATE_SUSPENDED | (listed ? EXTENDED_STARTUPINFO_PRESENT : 0), nullptr,
      nullptr, reinterpret_cast<STARTUPINFOW*>(&extended), &pi);
  auto code = GetLastError();
  if (!ok && listed && code == ERROR_INVALID_PARAMETER) {
    // A handle the list does not take (an old console's pseudo-handle):
    // the console's own streams, as without a list.
    STARTUPINFOW plain{};
    plain.cb = sizeof plain;
    ok = CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE,
                        CREATE_SUSPENDED, nullptr, nullptr, &plain, &pi);
    code = GetLastError();
  }
  if (listed)
    DeleteProcThreadAttributeList(
        reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data()));
  if (!ok) {
    error = windows_port::error_text(code);
    return nullptr;
  }
  return std::make_unique<suspended_child>(pi);
}

int wait_exit_code(unsigned long pid) {
  // The program may run as another account (the user Drover works for).
  HANDLE h = windows_port::open_process(
      SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, static_cast<DWORD>(pid));
  if (h == nullptr)
    return -1;
  DWORD code = 0;
  bool ok = WaitForSingleObject(h, INFINITE) == WAIT_OBJECT_0
            && GetExitCodeProcess(h, &code);
  CloseHandle(h);
  return ok ? static_cast<int>(code) : -1;
}

std::tm local_time(std::time_t t) {
  std::tm local{};
  localtime_s(&local, &t);
  return local;
}

const char* system_name() {
  return "Windows";
}

unsigned long current_process_id() {
  return GetCurrentProcessId();
}

} // namespace drover::platform
