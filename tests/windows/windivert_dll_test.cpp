// The real loading path (LoadLibrary from the executable's folder,
// GetProcAddress by name, the version check) against the test double
// WinDivert.dll built beside this test (tests/windows/fake_windivert.cpp),
// under wine; and what an open error tells the user.

#include <gtest/gtest.h>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/files.hpp"
#include "actors/platform/windivert_errors.hpp"
#include "actors/platform/windows/windivert_dll.hpp"
#include "net/sha2.hpp"

#include <fstream>
#include <sstream>

using namespace drover::platform;
using namespace drover::platform::windivert;

namespace {

std::filesystem::path here() {
  return current_executable().parent_path();
}

// Sets (or, with nullptr, clears) a variable for the double.
void script(const char* name, const char* value) {
  SetEnvironmentVariableA(name, value);
}

int open_handles() {
  auto m = GetModuleHandleW(L"WinDivert.dll");
  auto count = reinterpret_cast<int (*)()>(
      reinterpret_cast<void*>(GetProcAddress(m, "DroverFakeOpenHandles")));
  return count ? count() : -1;
}

} // namespace

TEST(windivert_dll, loads_from_the_programs_folder_and_opens) {
  std::string error;
  auto d = dll::load(here(), error);
  ASSERT_TRUE(d) << error;
  uint32_t code = 1;
  auto h = open_checked(*d, "outbound and ip", layer_network, 1000, 0, code,
                        error);
  ASSERT_NE(h, nullptr) << code << " " << error;
  EXPECT_EQ(code, 0u);
  EXPECT_EQ(open_handles(), 1);
  EXPECT_TRUE(d->close(h));
  EXPECT_EQ(open_handles(), 0);
}

// A build that shipped WinDivert: a missing file is reinstalled. One made
// without it (this test build): the user is told what to download and
// where each file goes; reinstalling would not help.
TEST(windivert_dll, a_missing_dll_names_the_place_and_what_helps) {
  std::string error;
  auto d
      = dll::load(here() / "nowhere", error,
                  expected_files{std::string(64, 'a'), std::string(64, 'b')});
  EXPECT_FALSE(d);
  EXPECT_NE(error.find("nowhere"), std::string::npos) << error;
  EXPECT_NE(error.find("is missing: reinstall Drover"), std::string::npos)
      << error;
  EXPECT_FALSE(packed_files().shipped()) << "a test build packs no WinDivert";
  d = dll::load(here() / "nowhere", error);
  EXPECT_FALSE(d);
  EXPECT_NE(error.find("built without WinDivert, so reinstalling it does "
                       "not bring it"),
            std::string::npos)
      << error;
  EXPECT_NE(
      error.find("x64\\WinDivert64.sys into " + (here() / "nowhere").string()),
      std::string::npos)
      << error;
}

// Shipped files are loaded only when they are the ones packed.
TEST(windivert_dll, a_replaced_file_is_refused_before_it_is_loaded) {
  auto folder = here() / "windivert-files-test";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file(here() / "WinDivert.dll",
                             folder / "WinDivert.dll");
  std::ofstream{folder / "WinDivert64.sys", std::ios::binary}
      << "the driver, as packed";
  auto digest = [](const std::filesystem::path& p) {
    std::ifstream in{p, std::ios::binary};
    std::stringstream s;
    s << in.rdbuf();
    return drover::net::to_hex(drover::net::sha256(s.str()));
  };
  expected_files packed{digest(folder / "WinDivert.dll"),
                        digest(folder / "WinDivert64.sys")};
  EXPECT_EQ(files_problem(folder, packed), "");
  std::ofstream{folder / "WinDivert64.sys", std::ios::binary}
      << "another tool's driver";
  auto problem = files_problem(folder, packed);
  EXPECT_NE(problem.find("WinDivert64.sys is not the WinDivert file Drover "
                         "was installed with (its SHA-256 is "
                         + digest(folder / "WinDivert64.sys") + ", expected "
                         + packed.sys_sha256),
            std::string::npos)
      << problem;
  EXPECT_NE(problem.find("reinstall Drover"), std::string::npos);
  std::string error;
  EXPECT_FALSE(dll::load(folder, error, packed));
  EXPECT_EQ(error, problem);
  std::filesystem::remove_all(folder);
}

TEST(windivert_dll, open_errors_reach_the_user_as_what_to_do) {
  std::string error;
  auto d = dll::load(here(), error);
  ASSERT_TRUE(d) << error;
  script("DROVER_FAKE_WINDIVERT_OPEN_ERROR", "5");
  uint32_t code = 0;
  EXPECT_EQ(open_checked(*d, "true", layer_network, 0, 0, code, error),
            nullptr);
  EXPECT_EQ(code, 5u);
  auto e = explain_open_error(code);
  EXPECT_EQ(e.failure, capture_failure::not_permitted);
  EXPECT_NE(e.text.find("Run as administrator"), std::string::npos);
  script("DROVER_FAKE_WINDIVERT_OPEN_ERROR", "1275");
  EXPECT_EQ(open_checked(*d, "true", layer_network, 0, 0, code, error),
            nullptr);
  EXPECT_EQ(code, 1275u);
  EXPECT_NE(explain_open_error(code).text.find("antivirus"), std::string::npos);
  script("DROVER_FAKE_WINDIVERT_OPEN_ERROR", nullptr);
}

// The double refuses what the driver's compiler refuses (a field outside
// its layer), with the driver's error 87, and what it says to the user.
TEST(windivert_dll, a_filter_the_driver_refuses_fails_with_87) {
  std::string error;
  auto d = dll::load(here(), error);
  ASSERT_TRUE(d) << error;
  uint32_t code = 0;
  EXPECT_EQ(
      open_checked(*d, "processId == 4", layer_network, 0, 0, code, error),
      nullptr);
  EXPECT_EQ(code, 87u);
  EXPECT_EQ(open_handles(), 0);
  EXPECT_NE(explain_open_error(code).text.find("a bug in Drover"),
            std::string::npos);
  auto h = open_checked(*d, "processId == 4", layer_socket, 0, 0, code, error);
  EXPECT_NE(h, nullptr) << "the SOCKET layer has processId";
  if (h != nullptr)
    d->close(h);
}

TEST(windivert_dll, another_tools_old_driver_is_refused_and_closed) {
  std::string error;
  auto d = dll::load(here(), error);
  ASSERT_TRUE(d) << error;
  script("DROVER_FAKE_WINDIVERT_VERSION", "1.4");
  uint32_t code = 0;
  EXPECT_EQ(open_checked(*d, "true", layer_network, 0, 0, code, error),
            nullptr);
  EXPECT_EQ(code, 0u);
  EXPECT_NE(error.find("version 1.4"), std::string::npos) << error;
  EXPECT_NE(error.find("sc delete WinDivert"), std::string::npos) << error;
  EXPECT_EQ(open_handles(), 0) << "the refused handle was not closed";
  script("DROVER_FAKE_WINDIVERT_VERSION", nullptr);
}

namespace {

template<class Fn>
Fn fake_export(const char* name) {
  auto m = GetModuleHandleW(L"WinDivert.dll");
  return reinterpret_cast<Fn>(reinterpret_cast<void*>(GetProcAddress(m, name)));
}

// A minimal IPv4 packet: TCP or UDP to 203.0.113.9:443.
std::string packet(bool tcp) {
  std::string p(tcp ? 40 : 28, '\0');
  p[0] = 0x45;
  p[3] = static_cast<char>(p.size());
  p[8] = 64;
  p[9] = tcp ? 6 : 17;
  p[12] = 10, p[13] = 0, p[14] = 0, p[15] = 2;
  p[16] = static_cast<char>(203), p[17] = 0, p[18] = 113, p[19] = 9;
  p[22] = 0x01, p[23] = static_cast<char>(0xbb);
  if (tcp)
    p[32] = 0x50, p[33] = 0x02;
  else
    p[25] = 8;
  return p;
}

// One receive on `h`, waited for (bounded): 0 with the bytes in `into`, or
// the error.
DWORD receive_from(const dll& d, handle h, std::string& into) {
  char buf[2000];
  address ad[4];
  UINT ad_bytes = sizeof ad;
  OVERLAPPED ov{};
  ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  DWORD n = 0, e = 0;
  if (!d.recv_ex(h, buf, sizeof buf, nullptr, 0, ad, &ad_bytes, &ov)) {
    e = GetLastError();
    if (e == ERROR_IO_PENDING) {
      e = WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0
                  && GetOverlappedResult(h, &ov, &n, FALSE)
              ? 0
              : GetLastError();
      if (e == 0)
        into.assign(buf, n);
    }
  } else if (GetOverlappedResult(h, &ov, &n, TRUE)) {
    into.assign(buf, n);
  }
  CloseHandle(ov.hEvent);
  return e;
}

} // namespace

// The double as the driver: a packet goes to the highest-priority handle
// whose filter takes it; a closed handle's queue is re-injected, on to a
// lower-priority handle whose filter takes each packet or undiverted; a
// shut-down handle still hands over what it holds, then says 232.
TEST(windivert_dll, delivery_by_priority_reinjection_at_close_and_232) {
  std::string error;
  auto d = dll::load(here(), error);
  ASSERT_TRUE(d) << error;
  using deliver_fn = BOOL (*)(layer, const void*, UINT, const address*, UINT);
  using take_fn = UINT (*)(void*, UINT, address*);
  auto deliver = fake_export<deliver_fn>("DroverFakeDeliver");
  auto take_passed = fake_export<take_fn>("DroverFakeTakePassed");
  ASSERT_TRUE(deliver && take_passed);
  uint32_t code = 0;
  auto high = open_checked(*d, "true", layer_network, 20, 0, code, error);
  auto low = open_checked(*d, "tcp", layer_network, 10, 0, code, error);
  ASSERT_TRUE(high && low) << code << " " << error;

  address a{};
  a.outbound = 1;
  auto batch = packet(true) + packet(false);
  address addrs[2] = {a, a};
  ASSERT_TRUE(deliver(layer_network, batch.data(),
                      static_cast<UINT>(batch.size()), addrs, 2))
      << "the higher-priority handle takes both";
  // Closed before it received them: the TCP packet goes on to the lower
  // handle, whose filter takes it; the UDP one passes undiverted.
  EXPECT_TRUE(d->close(high));
  char out[100];
  address got{};
  EXPECT_EQ(take_passed(out, sizeof out, &got), 28u) << "the UDP packet";
  EXPECT_EQ(take_passed(out, sizeof out, &got), 0u);

  auto receive = [&](std::string& into) {
    return receive_from(*d, low, into);
  };
  std::string first;
  EXPECT_EQ(receive(first), 0u);
  EXPECT_EQ(first, packet(true)) << "the re-injected TCP packet";
  // A UDP packet now: no open handle's filter takes it.
  auto udp = packet(false);
  EXPECT_FALSE(
      deliver(layer_network, udp.data(), static_cast<UINT>(udp.size()), &a, 1));
  // Shut down with one packet held: it is received, then 232.
  auto tcp = packet(true);
  ASSERT_TRUE(
      deliver(layer_network, tcp.data(), static_cast<UINT>(tcp.size()), &a, 1));
  EXPECT_TRUE(d->shutdown(low, shutdown_both));
  std::string held;
  EXPECT_EQ(receive(held), 0u);
  EXPECT_EQ(held, tcp);
  std::string none;
  EXPECT_EQ(receive(none), static_cast<DWORD>(ERROR_NO_DATA));
  EXPECT_TRUE(d->close(low));
  EXPECT_EQ(open_handles(), 0);
}

// What a handle injects goes on to lower-priority handles whose filter
// takes it (never back to itself or above), else out.
TEST(windivert_dll, an_injected_packet_continues_below_only) {
  std::string error;
  auto d = dll::load(here(), error);
  ASSERT_TRUE(d) << error;
  using take_fn = UINT (*)(void*, UINT, address*);
  auto take_sent = fake_export<take_fn>("DroverFakeTakeSent");
  ASSERT_TRUE(take_sent);
  uint32_t code = 0;
  auto high = open_checked(*d, "true", layer_network, 20, 0, code, error);
  auto low = open_checked(*d, "true", layer_network, 10, 0, code, error);
  ASSERT_TRUE(high && low) << code << " " << error;
  address a{};
  a.outbound = 1;
  auto tcp = packet(true);
  ASSERT_TRUE(d->send_ex(high, tcp.data(), static_cast<UINT>(tcp.size()),
                         nullptr, 0, &a, sizeof a, nullptr));
  std::string below;
  EXPECT_EQ(receive_from(*d, low, below), 0u);
  EXPECT_EQ(below, tcp) << "diverted again by the lower handle";
  char out[100];
  address got{};
  EXPECT_EQ(take_sent(out, sizeof out, &got), 0u) << "not out yet";
  ASSERT_TRUE(d->send_ex(low, tcp.data(), static_cast<UINT>(tcp.size()),
                         nullptr, 0, &a, sizeof a, nullptr));
  EXPECT_EQ(take_sent(out, sizeof out, &got), tcp.size())
      << "the lowest handle's injection goes out";
  EXPECT_TRUE(d->close(high));
  EXPECT_TRUE(d->close(low));
}
