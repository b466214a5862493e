// Starts a program elevated the way Windows' elevation (the AppInfo
// service) does after a UAC prompt: with an administrator's full token,
// and with the unelevated program that asked for it as its parent. Wine
// has no UAC, but it has both tokens (a process's full token and its
// linked, limited one), a parent attribute and CreateProcessAsUserW.
// The "program that asked" is a copy of this one started with the limited
// token and left suspended: it exists, it runs nothing.
// usage: elevated_like_windows.exe PROGRAM [ARGS...]; exits with PROGRAM's
// exit code, or 90+ when it could not be started so.
#include <windows.h>

#include <cstdio>
#include <string>

namespace {

HANDLE primary_copy(HANDLE token) {
  HANDLE copy = nullptr;
  DuplicateTokenEx(token, TOKEN_ALL_ACCESS, nullptr, SecurityImpersonation,
                   TokenPrimary, &copy);
  return copy;
}

int fail(const char* what) {
  std::fprintf(stderr, "elevated_like_windows: %s failed: %lu\n", what,
               GetLastError());
  return 90;
}

} // namespace

int wmain(int argc, wchar_t** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: elevated_like_windows.exe PROGRAM [ARGS...]\n");
    return 2;
  }
  HANDLE full = nullptr;
  TOKEN_LINKED_TOKEN linked{};
  DWORD size = 0;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ALL_ACCESS, &full)
      || !GetTokenInformation(full, TokenLinkedToken, &linked, sizeof linked,
                              &size))
    return fail("reading this process's tokens");
  HANDLE limited = primary_copy(linked.LinkedToken);
  HANDLE elevated = primary_copy(full);
  if (limited == nullptr || elevated == nullptr)
    return fail("copying the tokens");

  // The program that asked: unelevated, suspended.
  wchar_t self[MAX_PATH];
  GetModuleFileNameW(nullptr, self, MAX_PATH);
  std::wstring asker_line = L"\"" + std::wstring{self} + L"\" asker";
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION asker{};
  if (!CreateProcessAsUserW(limited, nullptr, asker_line.data(), nullptr,
                            nullptr, FALSE, CREATE_SUSPENDED, nullptr, nullptr,
                            &si, &asker))
    return fail("starting the unelevated asker");

  // The elevated program, the asker's child.
  std::wstring line;
  for (int i = 1; i < argc; ++i) {
    if (!line.empty())
      line += L' ';
    line += L"\"" + std::wstring{argv[i]} + L"\"";
  }
  SIZE_T list_size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &list_size);
  std::string list_memory(list_size, '\0');
  auto list
      = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_memory.data());
  HANDLE parent = asker.hProcess;
  STARTUPINFOEXW six{};
  six.StartupInfo.cb = sizeof six;
  six.lpAttributeList = list;
  PROCESS_INFORMATION child{};
  bool started
      = InitializeProcThreadAttributeList(list, 1, 0, &list_size)
        && UpdateProcThreadAttribute(list, 0,
                                     PROC_THREAD_ATTRIBUTE_PARENT_PROCESS,
                                     &parent, sizeof parent, nullptr, nullptr)
        && CreateProcessAsUserW(elevated, nullptr, line.data(), nullptr,
                                nullptr, FALSE, EXTENDED_STARTUPINFO_PRESENT,
                                nullptr, nullptr, &six.StartupInfo, &child);
  int code = 91;
  if (started) {
    WaitForSingleObject(child.hProcess, INFINITE);
    DWORD exit_code = 92;
    GetExitCodeProcess(child.hProcess, &exit_code);
    code = static_cast<int>(exit_code);
  } else {
    fail("starting the program elevated");
  }
  TerminateProcess(asker.hProcess, 0);
  return code;
}
