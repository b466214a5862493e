#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "actors/platform/files.hpp"
#include "config/config_file.hpp"
#include "config/parse.hpp"

using namespace drover;
using namespace drover::config;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test, removed afterwards.
class config_file_test : public ::testing::Test {
protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path()
           / (std::string{"drover-config-"} + info->name() + "-"
              + std::to_string(std::rand()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "config.toml";
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void write(const std::string& text) {
    std::ofstream out{path_, std::ios::binary | std::ios::trunc};
    out << text;
  }

  std::string read() const {
    std::ifstream in{path_, std::ios::binary};
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
  fs::path path_;
};

// Ends the process at once, like kill -9: no destructors, no flushing.
[[noreturn]] void die_abruptly() {
#ifdef SIGKILL
  std::raise(SIGKILL);
#endif
  std::_Exit(9);
}

} // namespace

TEST_F(config_file_test, loads_a_good_file) {
  write("[proxy]\nport = 1080\n");
  config_file f{path_};
  auto r = f.load();
  EXPECT_EQ(r.outcome, config_file::status::loaded);
  EXPECT_TRUE(f.has_good());
  EXPECT_EQ(f.current().proxies[0].port, 1080);
}

TEST_F(config_file_test, broken_file_keeps_the_last_good_config) {
  write("[proxy]\nport = 1080\n");
  config_file f{path_};
  ASSERT_EQ(f.load().outcome, config_file::status::loaded);
  write("[proxy]\nport = 1081\nhost = \n");
  auto r = f.load();
  EXPECT_EQ(r.outcome, config_file::status::invalid);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].line, 3u);
  EXPECT_EQ(f.current().proxies[0].port, 1080) << "last good config replaced";
  write("[proxy]\nport = 99999\n");
  EXPECT_EQ(f.load().outcome, config_file::status::invalid);
  EXPECT_EQ(f.current().proxies[0].port, 1080);
  write("[proxy]\nport = 1082\n");
  EXPECT_EQ(f.load().outcome, config_file::status::loaded);
  EXPECT_EQ(f.current().proxies[0].port, 1082);
}

TEST_F(config_file_test, broken_file_without_a_good_one_gives_defaults) {
  write("[proxy\n");
  config_file f{path_};
  EXPECT_EQ(f.load().outcome, config_file::status::invalid);
  EXPECT_FALSE(f.has_good());
  EXPECT_EQ(f.current(), settings{});
}

TEST_F(config_file_test, missing_file) {
  config_file f{path_};
  auto r = f.load();
  EXPECT_EQ(r.outcome, config_file::status::missing);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].to_string().find(path_.string()), std::string::npos);
  EXPECT_EQ(f.current(), settings{});
}

TEST_F(config_file_test, save_writes_a_file_that_loads_back) {
  config_file f{dir_ / "sub" / "config.toml"};
  settings s;
  s.proxies[0].auth = true;
  s.proxies[0].login = "alice";
  s.proxies[0].password = "pw";
  ASSERT_EQ(f.save(s), "");
  config_file again{f.path()};
  ASSERT_EQ(again.load().outcome, config_file::status::loaded);
  EXPECT_EQ(again.current(), s);
  EXPECT_FALSE(platform::has_leftover_temporaries(f.path()));
}

// A version 1 file: read as it is, then written in version 2 once, with
// the same settings, the old file kept beside it comments and all.
TEST_F(config_file_test, an_older_file_is_upgraded_and_kept) {
  const std::string old_text = "# mine\n[proxy]\nport = 1081\n[targets]\n"
                               "processes = [\"Telegram\"]\n";
  write(old_text);
  config_file f{path_};
  auto r = f.load();
  ASSERT_EQ(r.outcome, config_file::status::loaded);
  EXPECT_EQ(r.older_version, 1);
  auto before = f.current();
  std::string error;
  auto said = f.upgrade(error);
  EXPECT_EQ(error, "");
  EXPECT_NE(said.find("version 1"), std::string::npos) << said;
  EXPECT_EQ(read(), serialize(before));
  std::ifstream kept{path_.string() + ".v1", std::ios::binary};
  std::stringstream kept_text;
  kept_text << kept.rdbuf();
  EXPECT_EQ(kept_text.str(), old_text);
  config_file again{path_};
  auto r2 = again.load();
  EXPECT_EQ(r2.older_version, 0);
  EXPECT_EQ(again.current(), before);
  EXPECT_EQ(again.current().rules[0].apps,
            std::vector<std::string>{"Telegram"});
  EXPECT_EQ(again.upgrade(error), "") << "nothing more to do";
}

TEST_F(config_file_test, saved_file_is_private_to_the_owner) {
#ifdef _WIN32
  GTEST_SKIP() << "%APPDATA% is per-user; no mode bits on Windows";
#else
  config_file f{path_};
  ASSERT_EQ(f.save(settings{}), "");
  auto perms = fs::status(path_).permissions();
  EXPECT_EQ(perms & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
#endif
}

// The process dies between writing the new content and replacing the file:
// the config on disk must still be the old one, whole.
TEST_F(config_file_test, killed_midway_leaves_the_old_file_whole) {
  const std::string old_text = serialize(settings{});
  write(old_text);
  settings next;
  next.proxies[0].port = 4242;
  next.rules[0].apps.assign(2000, "SomeLongProcessName.exe");
  auto new_text = serialize(next);
  auto target = path_;
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        platform::write_file_atomically(
            target, new_text, platform::file_access::owner_only,
            platform::on_behalf::engine, die_abruptly);
        std::_Exit(0); // not reached
      },
      [](int status) { return status != 0; }, "");
  EXPECT_EQ(read(), old_text) << "the config file was damaged";
  // The next save works and cleans up after the killed one.
  config_file f{path_};
  ASSERT_EQ(f.save(next), "");
  EXPECT_EQ(read(), new_text);
  EXPECT_FALSE(platform::has_leftover_temporaries(path_));
}

TEST_F(config_file_test, check_file_reports_without_state) {
  write("[ui]\nlog_level = \"loud\"\n");
  auto r = check_file(path_);
  EXPECT_EQ(r.outcome, config_file::status::invalid);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key, "ui.log_level");
}

// A rule's program file or folder that is not there is said by `config
// check`, where it is written, as a warning: the file loads (it may be
// installed later), but a typing mistake is not waited for in silence.
TEST_F(config_file_test, a_rule_path_that_does_not_exist_is_a_warning) {
  auto there = dir_ / "there.exe";
  std::ofstream{there} << "";
  auto missing = dir_ / "tpyo" / "discord";
  write("[[rule]]\nname = \"mine\"\npaths = [" + toml_string(there.string())
        + ", " + toml_string(missing.string()) + "]\nfolders = ["
        + toml_string(dir_.string()) + "]\n");
  auto r = check_file(path_);
  ASSERT_EQ(r.outcome, config_file::status::loaded);
  ASSERT_EQ(r.warnings.size(), 1u) << to_string(r.warnings);
  auto said = r.warnings[0].to_string();
  EXPECT_EQ(r.warnings[0].line, 3u) << said;
  EXPECT_EQ(r.warnings[0].column, 10u + toml_string(there.string()).size() + 2)
      << said;
  EXPECT_NE(said.find("rule[0].paths[1]"), std::string::npos) << said;
  EXPECT_NE(said.find(missing.string() + " does not exist (yet)"),
            std::string::npos)
      << said;
  // The engine (root) does not look: it would tell the user whether paths
  // they may not see exist.
  config_file f{path_};
  EXPECT_TRUE(f.load().warnings.empty());
  EXPECT_EQ(f.current().rules[0].paths.size(), 2u);
}
