#include "app/finish_update.hpp"

#ifdef _WIN32
#  include <windows.h>

#  include <shellapi.h>

#  include "actors/platform/windows/win32.hpp"
#  include "net/sha2.hpp"
#endif

namespace drover::cli {

#ifndef _WIN32

int finish_update(const finish_update_request&, std::ostream& err) {
  err << "drover: finish-update is for Windows; on Linux updates come as a "
         ".deb (docs/updates.md)\n";
  return 1;
}

#else

namespace wp = platform::windows_port;

namespace {

struct handle {
  HANDLE h = nullptr;
  ~handle() {
    if (h != nullptr && h != INVALID_HANDLE_VALUE)
      CloseHandle(h);
  }
};

// Runs the installer as administrator (the UAC prompt when this user is
// not one) in silent mode, into the folder Drover is installed in (NSIS's
// /D, last and unquoted; without it a silent install goes to its default
// folder after removing the one the user chose); its exit code, or why it
// could not run.
bool run_installer(const std::string& path, const std::string& restart,
                   DWORD& code, std::string& why) {
  std::wstring file = wp::to_wide(path);
  std::wstring folder = wp::to_wide(restart);
  auto cut = folder.find_last_of(L"\\/");
  folder = cut == std::wstring::npos ? std::wstring{} : folder.substr(0, cut);
  std::wstring parameters = L"/S";
  if (!folder.empty())
    parameters += L" /D=" + folder;
  SHELLEXECUTEINFOW info{};
  info.cbSize = sizeof info;
  info.fMask = SEE_MASK_NOCLOSEPROCESS | SEE_MASK_NOASYNC;
  info.lpVerb = L"runas";
  info.lpFile = file.c_str();
  info.lpParameters = parameters.c_str();
  info.nShow = SW_HIDE;
  if (!ShellExecuteExW(&info)) {
    DWORD e = GetLastError();
    why = e == ERROR_CANCELLED
              ? "the administrator prompt was cancelled"
              : "the installer did not start: " + wp::error_text(e);
    return false;
  }
  handle process{info.hProcess};
  if (process.h == nullptr) {
    why = "the installer did not start";
    return false;
  }
  // Bounded: an installer that never ends leaves Drover to be started by
  // hand, and says so.
  if (WaitForSingleObject(process.h, 15 * 60 * 1000) != WAIT_OBJECT_0) {
    why = "the installer did not finish within 15 minutes";
    return false;
  }
  GetExitCodeProcess(process.h, &code);
  return true;
}

bool start_again(const finish_update_request& r, const std::string& outcome,
                 std::ostream& err) {
  std::vector<std::string> args{r.restart, "--after-update", outcome};
  if (r.start_stopped)
    args.push_back("--start-stopped");
  std::wstring line = wp::command_line(args);
  std::wstring program = wp::to_wide(r.restart);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!CreateProcessW(program.c_str(), line.data(), nullptr, nullptr, FALSE, 0,
                      nullptr, nullptr, &si, &pi)) {
    err << "drover: cannot start " << r.restart
        << " again: " << wp::error_text(GetLastError()) << '\n';
    return false;
  }
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return true;
}

} // namespace

int finish_update(const finish_update_request& r, std::ostream& err) {
  // The tray ends first (it stopped its engine cleanly as it quit).
  if (r.wait_pid != 0) {
    handle tray{OpenProcess(SYNCHRONIZE, FALSE, r.wait_pid)};
    if (tray.h != nullptr)
      WaitForSingleObject(tray.h, 30 * 1000);
  }
  std::string outcome;
  {
    // Read and run while held open for reading only: nobody writes or
    // replaces the file between the check and the run.
    std::wstring path = wp::to_wide(r.installer);
    handle file{CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ,
                            nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL,
                            nullptr)};
    net::sha256_hasher hasher;
    bool readable = file.h != INVALID_HANDLE_VALUE;
    char buf[65536];
    DWORD got = 0;
    while (readable && ReadFile(file.h, buf, sizeof buf, &got, nullptr)
           && got > 0)
      hasher.add(buf, got);
    DWORD code = 0;
    std::string why;
    if (!readable)
      outcome = "failed: the downloaded installer is gone ("
                + wp::error_text(GetLastError()) + ")";
    else if (net::to_hex(hasher.finish()) != r.sha256)
      outcome = "failed: the downloaded installer changed before it ran; "
                "nothing was installed";
    else if (!run_installer(r.installer, r.restart, code, why))
      outcome = "failed: " + why;
    else if (code != 0)
      outcome = "failed: the installer ended with code " + std::to_string(code);
    else
      outcome = "installed " + r.version;
  }
  DeleteFileW(wp::to_wide(r.installer).c_str());
  err << "drover: update " << outcome << '\n';
  start_again(r, outcome, err);
  return outcome.rfind("installed", 0) == 0 ? 0 : 1;
}

#endif

} // namespace drover::cli
