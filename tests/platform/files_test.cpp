// Folders and files the engine trusts: a runtime folder someone else made
// in /tmp is never used; a file read for a client is never a link.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "actors/platform/files.hpp"

namespace fs = std::filesystem;
using namespace drover::platform;

namespace {

class files_test : public ::testing::Test {
protected:
  void SetUp() override {
    base = fs::temp_directory_path()
           / ("drover-files-test-" + std::to_string(::getpid()));
    fs::create_directories(base);
    // /tmp for the code under test: a folder of this test's own.
    old_tmpdir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "";
    old_xdg
        = std::getenv("XDG_RUNTIME_DIR") ? std::getenv("XDG_RUNTIME_DIR") : "";
    ::setenv("TMPDIR", base.c_str(), 1);
    ::unsetenv("XDG_RUNTIME_DIR");
  }
  void TearDown() override {
    if (old_tmpdir.empty())
      ::unsetenv("TMPDIR");
    else
      ::setenv("TMPDIR", old_tmpdir.c_str(), 1);
    if (!old_xdg.empty())
      ::setenv("XDG_RUNTIME_DIR", old_xdg.c_str(), 1);
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  fs::path fallback() const {
    return base / ("drover-" + std::to_string(::geteuid()));
  }
  fs::path base;
  std::string old_tmpdir, old_xdg;
};

} // namespace

TEST_F(files_test, the_runtime_folder_is_made_private) {
  auto dir = user_runtime_dir();
  EXPECT_EQ(dir, fallback());
  struct stat st {};
  ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(files_test, a_runtime_folder_planted_as_a_link_is_not_used) {
  auto elsewhere = base / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_symlink(elsewhere, fallback());
  auto dir = user_runtime_dir();
  EXPECT_NE(dir, fallback());
  EXPECT_EQ(dir.parent_path(), base);
  struct stat st {};
  ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(files_test, a_runtime_folder_of_another_user_is_not_used) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to give the folder away";
  fs::create_directories(fallback());
  ASSERT_EQ(::chown(fallback().c_str(), 65534, 65534), 0);
  EXPECT_NE(user_runtime_dir(), fallback());
}

TEST_F(files_test, read_file_takes_regular_files_only) {
  auto file = base / "config.toml";
  std::ofstream{file} << "text";
  std::string error;
  EXPECT_EQ(read_file(file, 1024, on_behalf::engine, error), "text");
  auto link = base / "link.toml";
  fs::create_symlink(file, link);
  EXPECT_FALSE(read_file(link, 1024, on_behalf::engine, error));
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(read_file(base, 1024, on_behalf::engine, error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(read_file(file, 2, on_behalf::engine, error));
  EXPECT_NE(error.find("larger than"), std::string::npos) << error;
  auto fifo = base / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(read_file(fifo, 1024, on_behalf::engine, error))
      << "a FIFO neither blocks nor passes";
}

// Windows' %PROGRAMDATA%\Drover: who may own the folder the elevated
// engine writes its logs into (any user may create one there first).
TEST(engine_folders, only_administrators_may_own_the_engines_folder) {
  const std::string engine = "S-1-5-21-1-2-3-500"; // the engine's account
  for (auto owner : {"S-1-5-18", "S-1-5-32-544",
                     "S-1-5-80-956008885-3418522649-1831038044-1853292631-"
                     "2271478464",
                     "S-1-5-21-1-2-3-500"})
    EXPECT_TRUE(trusted_folder_owner(owner, engine)) << owner;
  for (auto owner : {"S-1-5-21-1-2-3-1001", // a standard user
                     "S-1-5-32-545",        // Users
                     "S-1-1-0",             // Everyone
                     "S-1-5-32-5440", ""})
    EXPECT_FALSE(trusted_folder_owner(owner, engine)) << owner;
  // Without the engine's own account known, only the fixed ones.
  EXPECT_FALSE(trusted_folder_owner("", ""));
  EXPECT_FALSE(trusted_folder_owner("S-1-5-21-1-2-3-500", ""));
}
