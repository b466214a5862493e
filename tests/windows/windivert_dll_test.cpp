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

TEST(windivert_dll, a_missing_dll_names_the_place) {
  std::string error;
  auto d = dll::load(here() / "nowhere", error);
  EXPECT_FALSE(d);
  EXPECT_NE(error.find("nowhere"), std::string::npos) << error;
  EXPECT_NE(error.find("reinstall Drover"), std::string::npos) << error;
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
