// Windows' block for a killed engine (crash_block.hpp), through its real
// code against the test double of fwpuclnt.dll (fake_fwpuclnt.cpp: the
// filtering engine cannot run under wine): an engine killed in its own
// process leaves its programs blocked, the next engine lifts the blocks
// and Stop removes them, a restart of the computer ends them.

#include "actors/platform/windows/wfp_abi.hpp" // winsock2.h, windows.h

#include <gtest/gtest.h>

#include <string>

#include "actors/platform/capture.hpp"
#include "actors/platform/windows/crash_block.hpp"

namespace {

using drover::platform::windows_port::crash_block;
using drover::platform::windows_port::crash_keeper;
namespace wfp = drover::platform::wfp;

std::wstring folder() {
  wchar_t buf[MAX_PATH];
  DWORD n = GetModuleFileNameW(nullptr, buf, MAX_PATH);
  std::wstring p{buf, n};
  return p.substr(0, p.find_last_of(L"\\/"));
}

// Programs that exist in every wine prefix (the double, like Windows,
// names only files that are there).
const wchar_t* const discord = L"C:\\windows\\system32\\notepad.exe";
const char* const discord_utf8 = "C:\\windows\\system32\\notepad.exe";
const wchar_t* const other = L"C:\\windows\\system32\\cmd.exe";

enum decision { none = 0, permit = 1, block = 2 };

class crash_block_test : public ::testing::Test {
protected:
  void SetUp() override {
    wchar_t temp[MAX_PATH];
    GetTempPathW(MAX_PATH, temp);
    store = std::wstring{temp} + L"drover-wfp-store-"
            + std::to_wstring(GetCurrentProcessId()) + L".txt";
    DeleteFileW(store.c_str());
    SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", store.c_str());
    library = LoadLibraryW((folder() + L"\\fake_fwpuclnt.dll").c_str());
    ASSERT_NE(library, nullptr);
    decide = reinterpret_cast<int (*)(int, const wchar_t*, int)>(
        reinterpret_cast<void*>(GetProcAddress(library, "fake_wfp_decide")));
    filters = reinterpret_cast<int (*)()>(
        reinterpret_cast<void*>(GetProcAddress(library, "fake_wfp_filters")));
    restart = reinterpret_cast<void (*)()>(
        reinterpret_cast<void*>(GetProcAddress(library, "fake_wfp_restart")));
    ASSERT_TRUE(decide && filters && restart);
  }
  void TearDown() override {
    DeleteFileW(store.c_str());
    SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", nullptr);
    SetEnvironmentVariableW(L"DROVER_FAKE_WFP_REFUSE_DELETE", nullptr);
  }

  // What every ALE layer decides for `program`'s first packet (all four
  // must agree); -1 when they differ.
  int everywhere(const wchar_t* program, bool loopback = false) {
    int first = decide(0, program, loopback ? 1 : 0);
    for (int layer = 1; layer < 4; ++layer)
      if (decide(layer, program, loopback ? 1 : 0) != first)
        return -1;
    return first;
  }

  // An engine in a process of its own that blocked `discord`, killed
  // (TerminateProcess: nothing of it runs after).
  void an_engine_killed() {
    std::wstring event_name
        = L"drover-crash-block-ready-" + std::to_wstring(GetCurrentProcessId());
    HANDLE ready = CreateEventW(nullptr, TRUE, FALSE, event_name.c_str());
    ASSERT_NE(ready, nullptr);
    std::wstring line = L"\"" + folder() + L"\\crash_block_engine.exe\" \""
                        + folder() + L"\\fake_fwpuclnt.dll\" \"" + discord
                        + L"\" " + event_name;
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    ASSERT_TRUE(CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE, 0,
                               nullptr, nullptr, &si, &pi));
    HANDLE both[] = {ready, pi.hProcess};
    DWORD woke = WaitForMultipleObjects(2, both, FALSE, 30000);
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    ASSERT_EQ(woke, WAIT_OBJECT_0) << "the engine ended first, code " << code;

    EXPECT_EQ(everywhere(discord), permit) << "the engine runs: its permit";
    EXPECT_EQ(everywhere(other), permit) << "every program, over every block";

    TerminateProcess(pi.hProcess, 9);
    WaitForSingleObject(pi.hProcess, 30000);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    CloseHandle(ready);
  }

  std::wstring store;
  HMODULE library = nullptr;
  int (*decide)(int, const wchar_t*, int) = nullptr;
  int (*filters)() = nullptr;
  void (*restart)() = nullptr;
};

TEST_F(crash_block_test, a_killed_engine_leaves_its_programs_blocked) {
  an_engine_killed();
  EXPECT_EQ(everywhere(discord), block)
      << "its connections and datagrams, both ways, IPv4 and IPv6";
  EXPECT_EQ(everywhere(discord, true), none) << "loopback stays";
  EXPECT_EQ(everywhere(other), none) << "other programs are not touched";
  EXPECT_EQ(filters(), 4);
}

TEST_F(crash_block_test,
       the_next_engine_lifts_the_blocks_and_stop_removes_them) {
  an_engine_killed();
  crash_block next{library};
  ASSERT_EQ(next.hold(), "");
  EXPECT_EQ(everywhere(discord), block)
      << "held, not yet lifted: blocked until its capture holds";
  ASSERT_EQ(next.lift(), "");
  EXPECT_EQ(everywhere(discord), permit);
  ASSERT_EQ(next.block_program(discord_utf8), "");

  EXPECT_EQ(next.release(), "");
  EXPECT_EQ(everywhere(discord), none) << "Stop: direct, as asked";
  EXPECT_EQ(filters(), 0) << "the killed engine's blocks went too";
  EXPECT_FALSE(next.held());
}

TEST_F(crash_block_test, a_restart_of_the_computer_ends_the_blocks) {
  an_engine_killed();
  ASSERT_EQ(everywhere(discord), block);
  restart();
  EXPECT_EQ(everywhere(discord), none);
}

TEST_F(crash_block_test, a_block_waits_for_the_permit) {
  crash_block b{library};
  ASSERT_EQ(b.hold(), "");
  EXPECT_NE(b.block_program(discord_utf8).find("permit is not in place"),
            std::string::npos)
      << "a block alone would cut the program off while the engine runs";
  EXPECT_EQ(filters(), 0);
  ASSERT_EQ(b.lift(), "");
  EXPECT_EQ(b.block_program(discord_utf8), "");
  EXPECT_EQ(everywhere(discord), permit);
  // An engine that ends without Stop (its destructor): as if killed.
}

TEST_F(crash_block_test, an_engine_ending_without_stop_leaves_the_blocks) {
  {
    crash_block b{library};
    ASSERT_EQ(b.hold(), "");
    ASSERT_EQ(b.lift(), "");
    ASSERT_EQ(b.block_program(discord_utf8), "");
  }
  EXPECT_EQ(everywhere(discord), block);
}

TEST_F(crash_block_test, stop_removes_only_drovers_filters) {
  // Another program's block, in a sublayer of its own.
  using open_fn = wfp::engine_open_fn;
  using sublayer_fn = wfp::sublayer_add_fn;
  using filter_fn = wfp::filter_add_fn;
  auto open = reinterpret_cast<open_fn>(
      reinterpret_cast<void*>(GetProcAddress(library, "FwpmEngineOpen0")));
  auto add_sublayer = reinterpret_cast<sublayer_fn>(
      reinterpret_cast<void*>(GetProcAddress(library, "FwpmSubLayerAdd0")));
  auto add_filter = reinterpret_cast<filter_fn>(
      reinterpret_cast<void*>(GetProcAddress(library, "FwpmFilterAdd0")));
  FWPM_SESSION0 session{};
  HANDLE theirs = nullptr;
  ASSERT_EQ(open(nullptr, RPC_C_AUTHN_WINNT, nullptr, &session, &theirs), 0u);
  FWPM_SUBLAYER0 sublayer{};
  sublayer.subLayerKey = {0x11111111, 1, 1, {1, 1, 1, 1, 1, 1, 1, 1}};
  ASSERT_EQ(add_sublayer(theirs, &sublayer, nullptr), 0u);
  FWPM_FILTER0 f{};
  f.layerKey = wfp::layer_connect_v4;
  f.subLayerKey = sublayer.subLayerKey;
  f.action.type = FWP_ACTION_BLOCK;
  UINT64 id = 0;
  ASSERT_EQ(add_filter(theirs, &f, nullptr, &id), 0u);

  crash_block b{library};
  ASSERT_EQ(b.hold(), "");
  ASSERT_EQ(b.lift(), "");
  ASSERT_EQ(b.block_program(discord_utf8), "");
  EXPECT_EQ(decide(0, other, 0), block) << "theirs blocks in its sublayer";
  EXPECT_EQ(b.release(), "");
  EXPECT_EQ(filters(), 1) << "theirs stays";
}

TEST_F(crash_block_test, windows_refusing_is_said_in_words) {
  SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", nullptr);
  crash_block b{library};
  auto said = b.hold();
  EXPECT_NE(said.find("Windows Filtering Platform: opening a session failed"),
            std::string::npos)
      << said;
  EXPECT_FALSE(b.held());
  EXPECT_NE(b.lift(), "");
}

// An updated program's old executable is gone (Discord's updater removes
// its old folder): it cannot run, so there is nothing to block, and it
// holds back no other program's block.
TEST_F(crash_block_test, a_program_no_longer_there_needs_no_block) {
  crash_block b{library};
  ASSERT_EQ(b.hold(), "");
  ASSERT_EQ(b.lift(), "");
  EXPECT_EQ(b.block_program("C:\\nowhere\\gone.exe"), "");
  EXPECT_EQ(filters(), 4) << "the permit only";
  EXPECT_EQ(b.release(), "");

  crash_keeper keeper{library};
  keeper.capture_holds();
  EXPECT_EQ(keeper.keep({discord_utf8, "C:\\nowhere\\gone.exe"}), "");
  EXPECT_EQ(filters(), 4 + 4) << "the permit and the program still there";
  keeper.release();
}

// The guard's side: nothing lifted before the capture holds the targets,
// the programs it took blocked once lifted, the permit gone while a
// stalled reader's handle is let go and back with the next session.
TEST_F(crash_block_test, the_keeper_lifts_only_while_the_capture_holds) {
  an_engine_killed();
  crash_keeper keeper{library};
  EXPECT_EQ(keeper.keep({discord_utf8}), "");
  EXPECT_FALSE(keeper.lifted());
  EXPECT_EQ(everywhere(discord), block) << "no session diverts yet";
  keeper.capture_holds();
  EXPECT_TRUE(keeper.lifted());
  EXPECT_EQ(everywhere(discord), permit);
  EXPECT_EQ(keeper.keep({"C:\\windows\\system32\\cmd.exe"}), "");
  EXPECT_EQ(filters(), 4 + 4 + 4 + 4)
      << "the killed engine's blocks, the program's again, cmd.exe's, and "
         "the permit";

  keeper.capture_lost();
  EXPECT_EQ(everywhere(discord), block) << "the handle was let go";
  EXPECT_EQ(everywhere(other), block);
  EXPECT_EQ(keeper.keep(), "");
  EXPECT_EQ(everywhere(discord), block) << "the check does not lift it";
  keeper.capture_holds();
  EXPECT_EQ(everywhere(discord), permit) << "the next session";

  keeper.release();
  EXPECT_EQ(filters(), 0);
  EXPECT_EQ(everywhere(discord), none);
}

// Stop is final: the watchdog's last check or a session's opening that
// comes after it holds, lifts and blocks nothing.
TEST_F(crash_block_test, nothing_is_put_back_after_the_keepers_release) {
  crash_keeper keeper{library};
  keeper.capture_holds();
  EXPECT_EQ(keeper.keep({discord_utf8}), "");
  ASSERT_EQ(filters(), 4 + 4);
  EXPECT_EQ(keeper.release(), "");
  EXPECT_EQ(filters(), 0);
  keeper.capture_holds();
  EXPECT_EQ(keeper.keep({"C:\\windows\\system32\\cmd.exe"}), "");
  EXPECT_FALSE(keeper.lifted());
  EXPECT_EQ(filters(), 0);
  EXPECT_EQ(everywhere(discord), none);
}

TEST_F(crash_block_test, the_keeper_tries_again_after_a_refusal) {
  SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", nullptr);
  crash_keeper keeper{library};
  EXPECT_NE(keeper.problem().find("opening a session failed"),
            std::string::npos);
  keeper.capture_holds();
  EXPECT_NE(keeper.keep({discord_utf8}), "");
  SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", store.c_str());
  EXPECT_EQ(keeper.keep(), "") << "the service is back";
  EXPECT_TRUE(keeper.lifted());
  EXPECT_EQ(filters(), 4 + 4) << "the program taken meanwhile is blocked";
  keeper.release();
}

// Stop, when Windows refuses to remove a block: the refusal is said in
// words, the block stays (a program that cannot be proxied goes nowhere,
// never direct) and the permit goes, so nothing waits for an engine that
// is stopping; the next removal that Windows allows (here `drover
// unblock`) takes it.
TEST_F(crash_block_test, a_refused_removal_keeps_the_block_and_says_so) {
  crash_block b{library};
  ASSERT_EQ(b.hold(), "");
  ASSERT_EQ(b.lift(), "");
  ASSERT_EQ(b.block_program(discord_utf8), "");
  SetEnvironmentVariableW(L"DROVER_FAKE_WFP_REFUSE_DELETE", L"5");
  size_t removed = 0;
  auto said = b.release(&removed);
  SetEnvironmentVariableW(L"DROVER_FAKE_WFP_REFUSE_DELETE", nullptr);
  EXPECT_NE(said.find("Windows Filtering Platform: removing a block failed"),
            std::string::npos)
      << said;
  EXPECT_EQ(removed, 0u);
  EXPECT_FALSE(b.held());
  EXPECT_EQ(everywhere(discord), block) << "still blocked, never direct";
  EXPECT_EQ(everywhere(other), none) << "the permit went with the engine";

  auto r = drover::platform::remove_leftovers(library);
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.engine_runs);
  EXPECT_EQ(r.removed.size(), 1u);
  EXPECT_EQ(everywhere(discord), none);
  EXPECT_EQ(filters(), 0);
}

// `drover unblock` (platform::remove_leftovers): after a kill, what the
// killed engine left goes and the programs go direct; a running engine's
// permit says it runs, and nothing of its capture is touched.
TEST_F(crash_block_test, unblock_removes_a_killed_engines_blocks) {
  an_engine_killed();
  auto r = drover::platform::remove_leftovers(library);
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.engine_runs);
  ASSERT_EQ(r.removed.size(), 1u);
  EXPECT_NE(r.removed[0].find("(4 filters)"), std::string::npos)
      << r.removed[0];
  EXPECT_EQ(everywhere(discord), none);
  EXPECT_EQ(filters(), 0);
  r = drover::platform::remove_leftovers(library);
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.removed.empty()) << "nothing left the second time";
}

TEST_F(crash_block_test, unblock_leaves_a_running_engines_capture) {
  crash_block running{library};
  ASSERT_EQ(running.hold(), "");
  ASSERT_EQ(running.lift(), "");
  ASSERT_EQ(running.block_program(discord_utf8), "");
  auto r = drover::platform::remove_leftovers(library);
  EXPECT_TRUE(r.engine_runs);
  EXPECT_TRUE(r.removed.empty());
  EXPECT_EQ(filters(), 4 + 4) << "its blocks and its permit stay";
  EXPECT_EQ(everywhere(discord), permit);
  EXPECT_EQ(running.release(), "");
}

} // namespace
