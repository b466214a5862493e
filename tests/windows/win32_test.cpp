// Win32 pieces for real under wine: the power-monitor's hidden window gets
// WM_POWERBROADCAST as Windows sends it, and the control channel's named
// pipe reaches the listener behind it (and nothing else does).

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <winsock2.h>
// After winsock2.h, which must come first.
#include <windows.h>

#include "actors/platform/files.hpp"
#include "actors/platform/instance_lock.hpp"
#include "actors/platform/power_events.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/sockets.hpp"

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

TEST(control_pipe, a_pipe_client_reaches_the_listener_and_a_socket_does_not) {
  SetEnvironmentVariableA("DROVER_CONTROL_PIPE", "drover-test-control");
  auto path = control_socket_path();
  EXPECT_EQ(path, "\\\\.\\pipe\\drover-test-control");
  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  // The broker's side, reduced to an echo that checks admission.
  auto server = std::async(std::launch::async, [listener] {
    std::string seen;
    for (int i = 0; i < 2; ++i) {
      u_long off = 0;
      ioctlsocket(static_cast<SOCKET>(listener), static_cast<long>(FIONBIO),
                  &off);
      sockaddr_in peer{};
      int len = sizeof peer;
      SOCKET c = accept(static_cast<SOCKET>(listener),
                        reinterpret_cast<sockaddr*>(&peer), &len);
      if (c == INVALID_SOCKET)
        return seen + "accept failed;";
      if (!local_client_admitted(ntohs(peer.sin_port))) {
        seen += "refused;";
        closesocket(c);
        continue;
      }
      char buf[64];
      int n = recv(c, buf, sizeof buf, 0);
      std::string line{buf, static_cast<size_t>(n > 0 ? n : 0)};
      seen += "served " + line;
      std::string answer = "ok " + line;
      send(c, answer.data(), static_cast<int>(answer.size()), 0);
      closesocket(c);
    }
    return seen;
  });
  // A program that finds the loopback listener is not admitted.
  auto direct = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in at{};
  int len = sizeof at;
  getsockname(static_cast<SOCKET>(listener), reinterpret_cast<sockaddr*>(&at),
              &len);
  ASSERT_EQ(connect(direct, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  // Through the pipe: admitted, and the answer comes back.
  auto client = connect_local(path);
  ASSERT_NE(client, invalid_socket);
  EXPECT_EQ(exchange(client, "status\n"), "ok status\n");
  close_local(client);
  ASSERT_EQ(server.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server.get(), "refused;served status\n");
  closesocket(direct);
  // A second engine is refused while this one holds the pipe.
  std::string second;
  EXPECT_EQ(listen_local(path, second), invalid_socket);
  EXPECT_NE(second.find("already running"), std::string::npos) << second;
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
