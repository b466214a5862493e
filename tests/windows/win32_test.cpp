// Win32 pieces for real under wine: the power-monitor's hidden window gets
// WM_POWERBROADCAST as Windows sends it; the instance lock, the elevation
// and the user an elevated engine works for (the control pipe's tests:
// control_pipe_test.cpp).

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <winsock2.h>
// After winsock2.h, which must come first.
#include <windows.h>
// After windows.h.
#include <aclapi.h>
#include <sddl.h>

#include "actors/platform/files.hpp"
#include "actors/platform/instance_lock.hpp"
#include "actors/platform/power_events.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/sockets.hpp"
#include "actors/platform/windows/invoking_user.hpp"
#include "actors/platform/windows/local_addresses.hpp"
#include "actors/platform/windows/win32.hpp"

using namespace drover::platform;
using namespace std::chrono_literals;

namespace {

// Run as `windows_win32_test.exe --claim NAME`: exits 0 if this process got
// the instance lock NAME, 1 if another holds it, 2 on an error.
struct claim_mode {
  claim_mode() {
    std::wstring args{GetCommandLineW()};
    auto at = args.find(L"--claim ");
    if (at == std::wstring::npos)
      return;
    std::string name;
    for (auto c : args.substr(at + 8))
      name += static_cast<char>(c);
    std::string error;
    auto lock = instance_lock::claim(name, error);
    ExitProcess(lock ? 0 : error.empty() ? 1 : 2);
  }
} claimer;

DWORD run_claim(const std::string& name) {
  auto line = L"\"" + current_executable().wstring() + L"\" --claim "
              + std::wstring(name.begin(), name.end());
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE, 0, nullptr,
                      nullptr, &si, &pi))
    return 99;
  WaitForSingleObject(pi.hProcess, 30000);
  DWORD code = 98;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return code;
}

HWND power_window() {
  auto title = L"Drover power events " + std::to_wstring(GetCurrentProcessId());
  return FindWindowW(L"DroverPowerEvents", title.c_str());
}

} // namespace

TEST(power_events, suspend_waits_for_the_engine_and_resume_follows) {
  power_events events;
  ASSERT_TRUE(events.ok()) << events.error();
  HWND w = power_window();
  ASSERT_NE(w, nullptr);
  // Windows sends PBT_APMSUSPEND and waits for the window procedure: here,
  // until the engine said it is ready.
  auto suspend = std::async(std::launch::async, [w] {
    return SendMessageW(w, WM_POWERBROADCAST, PBT_APMSUSPEND, 0);
  });
  EXPECT_EQ(events.wait(), power_events::event::sleep);
  EXPECT_EQ(suspend.wait_for(50ms), std::future_status::timeout)
      << "the system went to sleep before the engine was ready";
  events.ready_to_sleep();
  ASSERT_EQ(suspend.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(suspend.get(), TRUE);
  PostMessageW(w, WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC, 0);
  EXPECT_EQ(events.wait(), power_events::event::wake);
  // The resume that follows a user's key press is not a second wake.
  PostMessageW(w, WM_POWERBROADCAST, PBT_APMRESUMESUSPEND, 0);
  auto stopped = std::async(std::launch::async, [&] { return events.wait(); });
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);
  events.stop();
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(stopped.get(), power_events::event::stopped);
}

TEST(power_events, a_suspend_nobody_answers_is_let_go) {
  power_events events;
  ASSERT_TRUE(events.ok()) << events.error();
  auto start = std::chrono::steady_clock::now();
  // Nobody calls ready_to_sleep(): the window lets Windows go on anyway.
  SendMessageW(power_window(), WM_POWERBROADCAST, PBT_APMSUSPEND, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(events.wait(), power_events::event::sleep);
}

// The tray's single instance on Windows: a named mutex per install; a
// second process cannot take it while the first lives, and takes it once
// the first let go (the OS releases it on any exit).
TEST(instance_lock, a_second_process_is_refused_until_the_first_lets_go) {
  std::string name = "drover-test-" + std::to_string(GetCurrentProcessId());
  std::string error;
  auto first = instance_lock::claim(name, error);
  ASSERT_TRUE(first) << error;
  EXPECT_EQ(run_claim(name), 1u);
  first.reset();
  EXPECT_EQ(run_claim(name), 0u);
}

// The re-launch as administrator (wine has no UAC prompt: "runas" starts
// the program as it is), with the arguments passed on and the exit code
// handed back. The cancelled prompt is in docs/windows.md's manual plan.
TEST(elevation, the_same_program_runs_again_and_its_exit_code_comes_back) {
  std::string name = "drover-elevate-" + std::to_string(GetCurrentProcessId());
  std::string error;
  auto held = instance_lock::claim(name, error);
  ASSERT_TRUE(held) << error;
  EXPECT_EQ(run_elevated({"--claim", name}, error), 1) << error;
  held.reset();
  EXPECT_EQ(run_elevated({"--claim", name}, error), 0) << error;
}

// The user an elevated Drover works for (invoking_user.hpp). Wine gives a
// process an administrator's full token and its linked, limited one, as
// Windows gives an administrator; a standard user's token is the limited
// kind too.
namespace {

namespace wp = drover::platform::windows_port;

bool token_elevated(HANDLE token) {
  TOKEN_ELEVATION e{};
  DWORD size = 0;
  return GetTokenInformation(token, TokenElevation, &e, sizeof e, &size)
         && e.TokenIsElevated != 0;
}

// A copy of this test started suspended (it runs nothing) with the
// limited token, or with this process's own.
struct suspended_program {
  PROCESS_INFORMATION pi{};
  FILETIME created{};
  explicit suspended_program(bool limited) {
    HANDLE own = nullptr, token = nullptr;
    OpenProcessToken(GetCurrentProcess(), TOKEN_ALL_ACCESS, &own);
    TOKEN_LINKED_TOKEN linked{};
    DWORD size = 0;
    HANDLE source = own;
    if (limited
        && GetTokenInformation(own, TokenLinkedToken, &linked, sizeof linked,
                               &size))
      source = linked.LinkedToken;
    DuplicateTokenEx(source, TOKEN_ALL_ACCESS, nullptr, SecurityImpersonation,
                     TokenPrimary, &token);
    auto line
        = L"\"" + current_executable().wstring() + L"\" --gtest_list_tests";
    STARTUPINFOW si{};
    si.cb = sizeof si;
    if (token != nullptr
        && CreateProcessAsUserW(token, nullptr, line.data(), nullptr, nullptr,
                                FALSE, CREATE_SUSPENDED, nullptr, nullptr, &si,
                                &pi)) {
      FILETIME ended{}, kernel{}, user{};
      GetProcessTimes(pi.hProcess, &created, &ended, &kernel, &user);
    }
    if (token != nullptr)
      CloseHandle(token);
    CloseHandle(own);
  }
  ~suspended_program() {
    if (pi.hProcess == nullptr)
      return;
    TerminateProcess(pi.hProcess, 0);
    WaitForSingleObject(pi.hProcess, 5000);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
  }
};

FILETIME now() {
  FILETIME t{};
  GetSystemTimeAsFileTime(&t);
  return t;
}

} // namespace

TEST(invoking_user,
     an_unelevated_asker_is_found_acted_as_and_its_programs_run_unelevated) {
  if (!wp::process_elevated())
    GTEST_SKIP() << "needs an elevated test process (wine's default)";
  suspended_program asker{true};
  ASSERT_NE(asker.pi.hProcess, nullptr) << GetLastError();
  auto user = wp::unelevated_user_of(asker.pi.dwProcessId, now());
  ASSERT_TRUE(user);
  EXPECT_EQ(user->sid.rfind(L"S-1-5-", 0), 0u);
  {
    wp::acting_as as{&*user};
    ASSERT_FALSE(as.failed());
    HANDLE thread = nullptr;
    ASSERT_TRUE(
        OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &thread));
    EXPECT_FALSE(token_elevated(thread)) << "file operations act unelevated";
    CloseHandle(thread);
  }
  HANDLE after = nullptr;
  EXPECT_FALSE(OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &after))
      << "the engine's own rights are back";
  // Its programs: unelevated with the user, as the engine without.
  std::wstring line = L"cmd.exe /c exit 0";
  PROCESS_INFORMATION pi{};
  DWORD error = 0;
  ASSERT_TRUE(wp::start_suspended_as(&*user, line, pi, error)) << error;
  HANDLE token = nullptr;
  ASSERT_TRUE(OpenProcessToken(pi.hProcess, TOKEN_QUERY, &token));
  EXPECT_FALSE(token_elevated(token));
  CloseHandle(token);
  TerminateProcess(pi.hProcess, 0);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
}

// A program that would come out elevated where the user's own rights were
// meant (here: a "user" holding this elevated process's own token) is ended
// before its first instruction, and the caller is told why.
TEST(invoking_user, a_program_that_comes_out_elevated_is_ended) {
  if (!wp::process_elevated())
    GTEST_SKIP() << "needs an elevated test process (wine's default)";
  HANDLE own = nullptr, primary = nullptr, impersonation = nullptr;
  ASSERT_TRUE(OpenProcessToken(GetCurrentProcess(), TOKEN_ALL_ACCESS, &own));
  ASSERT_TRUE(DuplicateTokenEx(own, TOKEN_ALL_ACCESS, nullptr,
                               SecurityImpersonation, TokenPrimary, &primary));
  ASSERT_TRUE(DuplicateTokenEx(own, TOKEN_ALL_ACCESS, nullptr,
                               SecurityImpersonation, TokenImpersonation,
                               &impersonation));
  CloseHandle(own);
  wp::invoking_user elevated_user;
  elevated_user.primary = {primary, CloseHandle};
  elevated_user.impersonation = {impersonation, CloseHandle};
  elevated_user.sid = L"S-1-5-21-1-2-3-1001";
  std::wstring line = L"cmd.exe /c exit 0";
  PROCESS_INFORMATION pi{};
  DWORD error = 0;
  EXPECT_FALSE(wp::start_suspended_as(&elevated_user, line, pi, error));
  EXPECT_EQ(error, wp::error_started_elevated);
  EXPECT_EQ(pi.hProcess, nullptr) << "nothing is left to the caller";
}

TEST(invoking_user, an_elevated_or_newer_parent_is_not_an_asker) {
  if (!wp::process_elevated())
    GTEST_SKIP() << "needs an elevated test process (wine's default)";
  suspended_program elevated{false};
  ASSERT_NE(elevated.pi.hProcess, nullptr);
  EXPECT_FALSE(wp::unelevated_user_of(elevated.pi.dwProcessId, now()))
      << "an administrator's Command Prompt is not an unelevated asker";
  suspended_program asker{true};
  ASSERT_NE(asker.pi.hProcess, nullptr);
  FILETIME before = asker.created;
  ULARGE_INTEGER t{};
  t.LowPart = before.dwLowDateTime;
  t.HighPart = before.dwHighDateTime;
  t.QuadPart -= 10'000'000; // a second before it was made
  before.dwLowDateTime = t.LowPart;
  before.dwHighDateTime = t.HighPart;
  EXPECT_FALSE(wp::unelevated_user_of(asker.pi.dwProcessId, before))
      << "a process made after the engine only took a gone parent's ID";
  EXPECT_FALSE(wp::unelevated_user_of(0, now()));
  EXPECT_FALSE(wp::unelevated_user_of(GetCurrentProcessId(), now()));
}

TEST(invoking_user, the_control_pipe_admits_the_user_an_engine_works_for) {
  std::string who;
  auto dacl = wp::control_pipe_dacl(L"S-1-5-21-1-2-3-500",
                                    L"S-1-5-21-1-2-3-1001", who);
  EXPECT_EQ(dacl, L"D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;S-1-5-21-1-2-3-500)"
                  L"(A;;GRGW;;;S-1-5-21-1-2-3-1001)");
  EXPECT_EQ(who, "administrators, S-1-5-21-1-2-3-500, S-1-5-21-1-2-3-1001");
  // The same user once; no user; nothing but a SID's own characters.
  EXPECT_EQ(wp::control_pipe_dacl(L"S-1-5-21-7", L"S-1-5-21-7", who),
            L"D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;S-1-5-21-7)");
  EXPECT_EQ(wp::control_pipe_dacl(L"", L"", who),
            L"D:P(A;;GA;;;SY)(A;;GA;;;BA)");
  EXPECT_EQ(wp::control_pipe_dacl(L"", L"S-1-1-0)(A;;GA;;;WD", who),
            L"D:P(A;;GA;;;SY)(A;;GA;;;BA)");
}

TEST(invoking_user, the_user_an_engine_works_for_may_look_at_its_process) {
  // Another account's engine: its user checks the pipe's server process
  // (image, elevation) and waits for its end; the engine lets them.
  const wchar_t* sid = L"S-1-5-21-1-2-3-1001";
  ASSERT_TRUE(wp::let_look_at_this_process(sid));
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  ASSERT_EQ(GetSecurityInfo(GetCurrentProcess(), SE_KERNEL_OBJECT,
                            DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl,
                            nullptr, &descriptor),
            static_cast<DWORD>(ERROR_SUCCESS));
  wchar_t* text = nullptr;
  ASSERT_TRUE(ConvertSecurityDescriptorToStringSecurityDescriptorW(
      descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr));
  std::wstring sddl{text};
  LocalFree(text);
  LocalFree(descriptor);
  // PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, nothing more.
  EXPECT_NE(sddl.find(L";0x101000;;;S-1-5-21-1-2-3-1001)"), std::wstring::npos)
      << std::string(sddl.begin(), sddl.end());
  // And its token, for TOKEN_QUERY only: the clients read its elevation.
  HANDLE token = nullptr;
  ASSERT_TRUE(OpenProcessToken(GetCurrentProcess(), READ_CONTROL, &token));
  descriptor = nullptr;
  ASSERT_EQ(GetSecurityInfo(token, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION,
                            nullptr, nullptr, &dacl, nullptr, &descriptor),
            static_cast<DWORD>(ERROR_SUCCESS));
  CloseHandle(token);
  text = nullptr;
  ASSERT_TRUE(ConvertSecurityDescriptorToStringSecurityDescriptorW(
      descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr));
  std::wstring token_sddl{text};
  LocalFree(text);
  LocalFree(descriptor);
  // TOKEN_QUERY is 0x8, which SDDL spells as the directory right "SW".
  EXPECT_TRUE(token_sddl.find(L"(A;;SW;;;S-1-5-21-1-2-3-1001)")
                  != std::wstring::npos
              || token_sddl.find(L"(A;;0x8;;;S-1-5-21-1-2-3-1001)")
                     != std::wstring::npos)
      << "token: " << std::string(token_sddl.begin(), token_sddl.end());
}

// The adapters' IPv4 addresses (for the subnets' broadcasts the capture
// leaves alone) include the one Winsock's routing picks to reach outside.
TEST(local_addresses, the_address_that_reaches_outside_is_listed) {
  drover::platform::windows_port::ensure_winsock();
  SOCKET s = ::socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  ASSERT_NE(s, INVALID_SOCKET);
  sockaddr_in outside{};
  outside.sin_family = AF_INET;
  outside.sin_port = htons(9);
  outside.sin_addr.s_addr = htonl(0xC6336401); // 198.51.100.1; nothing is sent
  sockaddr_in mine{};
  int len = sizeof mine;
  bool routed
      = ::connect(s, reinterpret_cast<sockaddr*>(&outside), sizeof outside) == 0
        && ::getsockname(s, reinterpret_cast<sockaddr*>(&mine), &len) == 0
        && mine.sin_addr.s_addr != 0;
  ::closesocket(s);
  if (!routed)
    GTEST_SKIP() << "no route outside on this machine";
  auto listed = drover::platform::windows_port::interface_addresses();
  bool found = false;
  for (auto& a : listed) {
    EXPECT_NE(a.address.value >> 24, 127u) << "no loopback";
    EXPECT_LE(a.prefix_length, 32u);
    if (a.address.value == ntohl(mine.sin_addr.s_addr)) {
      found = true;
      EXPECT_GT(a.prefix_length, 0u);
    }
  }
  EXPECT_TRUE(found) << listed.size() << " addresses listed";
}
