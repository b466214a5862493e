// Start at login on Windows: what the registry values mean (both OSes),
// and, under wine, the real registry: on and off, Task Manager's Disabled
// mark winning (seed A-5), a moved program written again.

#include <gtest/gtest.h>

#include "actors/platform/startup_entry.hpp"

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#endif

using namespace drover::platform::startup;

TEST(startup_entry, explorers_switch) {
  const uint8_t on[12] = {2};
  const uint8_t off[12] = {3, 0, 0, 0, 0x10, 0x20};
  const uint8_t on_too[12] = {6};
  const uint8_t off_too[12] = {7};
  EXPECT_TRUE(approved(on, sizeof on));
  EXPECT_FALSE(approved(off, sizeof off));
  EXPECT_TRUE(approved(on_too, sizeof on_too));
  EXPECT_FALSE(approved(off_too, sizeof off_too));
  EXPECT_TRUE(approved(nullptr, 0));
}

TEST(startup_entry, a_path_with_spaces_is_quoted_and_read_back) {
  std::wstring program = L"C:\\Program Files\\Drover\\drover.exe";
  auto value = run_value(program);
  EXPECT_EQ(value, L"\"C:\\Program Files\\Drover\\drover.exe\"");
  EXPECT_EQ(program_of(value), program);
  EXPECT_EQ(program_of(L"C:\\x\\drover.exe --tray"), L"C:\\x\\drover.exe");
}

#ifdef _WIN32

namespace {

void mark(uint8_t first) {
  const uint8_t data[12] = {first};
  RegSetKeyValueW(HKEY_CURRENT_USER,
                  L"Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\"
                  L"StartupApproved\\Run",
                  L"Drover", REG_BINARY, data, sizeof data);
}

} // namespace

TEST(startup_entry, the_registry_under_wine) {
  std::wstring program = L"C:\\Program Files\\Drover\\drover.exe";
  ASSERT_EQ(set_enabled(false, program), "");
  EXPECT_FALSE(enabled());
  ASSERT_EQ(set_enabled(true, program), "");
  EXPECT_TRUE(enabled());
  // Task Manager turned it off: the user wins.
  mark(3);
  EXPECT_FALSE(enabled());
  // Drover's own checkbox turns it on again, Explorer's switch included.
  ASSERT_EQ(set_enabled(true, program), "");
  EXPECT_TRUE(enabled());
  // drover.exe moved: the next start writes the new place.
  EXPECT_TRUE(heal(L"D:\\portable\\drover.exe"));
  EXPECT_FALSE(heal(L"D:\\portable\\drover.exe"));
  EXPECT_TRUE(enabled());
  ASSERT_EQ(set_enabled(false, program), "");
  EXPECT_FALSE(enabled());
  EXPECT_FALSE(heal(program)) << "off stays off";
}

#endif
