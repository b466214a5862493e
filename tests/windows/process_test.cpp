// procscan's Windows source, for real under wine: Toolhelp32 finds a
// program started by name (a copy of this test under a Discord-like name),
// with its parent, so a target's child processes can be included.

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"

using namespace drover::platform;

namespace {

// Run as `process_test.exe --wait`: block until stdin closes (the test
// holds the other end), so the process is there to be found.
struct waiter_mode {
  waiter_mode() {
    auto args = std::wstring{GetCommandLineW()};
    if (args.find(L"--wait") == std::wstring::npos)
      return;
    char c;
    DWORD n = 0;
    while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), &c, 1, &n, nullptr)
           && n > 0) {}
    ExitProcess(0);
  }
} waiter;

} // namespace

TEST(windows_process, toolhelp_finds_a_program_started_by_name) {
  namespace fs = std::filesystem;
  auto copy = current_executable().parent_path() / "DroverTestDiscord.exe";
  std::error_code ec;
  fs::copy_file(current_executable(), copy,
                fs::copy_options::overwrite_existing, ec);
  ASSERT_FALSE(ec) << ec.message();

  SECURITY_ATTRIBUTES inherit{sizeof inherit, nullptr, TRUE};
  HANDLE read_end = nullptr, write_end = nullptr;
  ASSERT_TRUE(CreatePipe(&read_end, &write_end, &inherit, 0));
  SetHandleInformation(write_end, HANDLE_FLAG_INHERIT, 0);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = read_end;
  si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  std::wstring cmd = L"\"" + copy.wstring() + L"\" --wait";
  PROCESS_INFORMATION pi{};
  ASSERT_TRUE(CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, TRUE, 0,
                             nullptr, nullptr, &si, &pi))
      << GetLastError();
  CloseHandle(read_end);

  bool found = false;
  for (auto& p : list_processes().value_or(std::vector<process_entry>{}))
    if (p.pid == pi.dwProcessId) {
      found = true;
      EXPECT_EQ(p.name, "DroverTestDiscord.exe");
      EXPECT_EQ(p.parent_pid, GetCurrentProcessId());
      // Its creation time, as the process's own times say it (a reused
      // ID differs here).
      FILETIME created{}, exited{}, kernel{}, user{};
      ASSERT_TRUE(
          GetProcessTimes(pi.hProcess, &created, &exited, &kernel, &user));
      EXPECT_EQ(p.created, (uint64_t{created.dwHighDateTime} << 32)
                               | created.dwLowDateTime);
    }
  EXPECT_TRUE(found) << "pid " << pi.dwProcessId << " not listed";

  CloseHandle(write_end); // the waiter exits
  EXPECT_EQ(WaitForSingleObject(pi.hProcess, 10000), WAIT_OBJECT_0);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  fs::remove(copy, ec);
}
