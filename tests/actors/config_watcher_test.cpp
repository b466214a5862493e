// The config-watcher's parts: what counts as a change of which section, and
// the file watch on a real folder (inotify), including the write-and-rename
// that editors and Drover's own save use.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "actors/config_watcher.hpp"
#include "actors/platform/file_watch.hpp"

using namespace drover;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(config_diff, each_section_is_told_apart) {
  config::settings a;
  EXPECT_FALSE(diff(a, a).settings) << "no change, nothing to send";
  auto b = a;
  b.proxy.port = 1081;
  auto c = diff(a, b);
  ASSERT_TRUE(c.settings);
  EXPECT_EQ(c.settings->proxy.port, 1081);
  EXPECT_TRUE(c.proxy_changed);
  EXPECT_FALSE(c.targets_changed || c.skip_changed || c.ui_changed
               || c.engine_changed);
  b = a;
  b.targets.processes = {"x"};
  b.ui.level = config::log_level::debug;
  c = diff(a, b);
  EXPECT_TRUE(c.targets_changed && c.ui_changed);
  EXPECT_FALSE(c.proxy_changed || c.skip_changed || c.engine_changed);
  b = a;
  b.check.udp_target.port = 3478;
  c = diff(a, b);
  EXPECT_TRUE(c.settings) << "[check] is a change (for the next check)";
  EXPECT_FALSE(c.proxy_changed || c.targets_changed || c.skip_changed
               || c.ui_changed || c.engine_changed);
}

namespace {

struct folder {
  fs::path dir = fs::temp_directory_path()
                 / ("drover-watch-" + std::to_string(::getpid()));
  folder() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~folder() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Runs wait() on a thread of its own; the future says what it returned.
std::future<bool> waiting(platform::file_watch& w) {
  return std::async(std::launch::async, [&w] { return w.wait(); });
}

} // namespace

TEST(file_watch, a_rename_over_the_file_is_a_change) {
  folder f;
  auto file = f.dir / "config.toml";
  std::ofstream{file} << "a";
  platform::file_watch w{file};
  ASSERT_TRUE(w.ok()) << w.error();
  auto changed = waiting(w);
  std::ofstream{f.dir / ".config.toml.tmp"} << "b";
  fs::rename(f.dir / ".config.toml.tmp", file);
  ASSERT_EQ(changed.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(changed.get());
}

TEST(file_watch, a_write_in_place_is_a_change) {
  folder f;
  auto file = f.dir / "config.toml";
  std::ofstream{file} << "a";
  platform::file_watch w{file};
  auto changed = waiting(w);
  std::ofstream{file, std::ios::trunc} << "b";
  ASSERT_EQ(changed.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(changed.get());
}

TEST(file_watch, other_files_in_the_folder_are_not_and_stop_ends_the_wait) {
  folder f;
  auto file = f.dir / "config.toml";
  platform::file_watch w{file};
  ASSERT_TRUE(w.ok()) << w.error();
  auto changed = waiting(w);
  std::ofstream{f.dir / "other.toml"} << "x";
  fs::remove(f.dir / "other.toml");
  // Nothing of ours changed: the wait goes on until stop().
  EXPECT_EQ(changed.wait_for(300ms), std::future_status::timeout);
  w.stop();
  ASSERT_EQ(changed.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(changed.get());
}

TEST(file_watch, a_missing_folder_is_an_error_not_a_hang) {
  platform::file_watch w{"/nonexistent-drover-dir/config.toml"};
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.error().find("/nonexistent-drover-dir"), std::string::npos)
      << w.error();
  EXPECT_FALSE(w.wait());
}
