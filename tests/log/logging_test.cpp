#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "actors/log/json.hpp"
#include "actors/log/logging.hpp"
#include "actors/log/redact.hpp"
#include "config/parse.hpp"

using namespace drover;
namespace fs = std::filesystem;

namespace {

class logging_test : public ::testing::Test {
protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path()
           / (std::string{"drover-log-"} + info->name());
    fs::remove_all(dir_);
  }

  void TearDown() override {
    log::shutdown();
    log::set_secrets({});
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string read(const std::string& name) const {
    std::ifstream in{dir_ / name, std::ios::binary};
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
};

} // namespace

TEST_F(logging_test, lines_name_the_component) {
  log::init({dir_, 1 << 20, 1, config::log_level::info, false});
  log::get("flow-manager")->info("hello {}", 42);
  log::flush();
  auto text = read("drover.log");
  EXPECT_NE(text.find("[info] [flow-manager] hello 42"), std::string::npos)
      << text;
  EXPECT_EQ(log::log_file(), dir_ / "drover.log");
}

TEST_F(logging_test, rotates_by_size_and_keeps_the_configured_backups) {
  log::init({dir_, 4096, 2, config::log_level::info, false});
  auto lg = log::get("rotation");
  std::string payload(100, 'x');
  for (int i = 0; i < 300; ++i)
    lg->info("{} {}", i, payload);
  log::flush();
  EXPECT_TRUE(fs::exists(dir_ / "drover.log"));
  EXPECT_TRUE(fs::exists(dir_ / "drover.1.log"));
  EXPECT_TRUE(fs::exists(dir_ / "drover.2.log"));
  EXPECT_FALSE(fs::exists(dir_ / "drover.3.log"));
  for (auto name : {"drover.log", "drover.1.log", "drover.2.log"})
    EXPECT_LE(fs::file_size(dir_ / name), 4096u) << name;
  EXPECT_NE(read("drover.log").find("299 xxx"), std::string::npos);
}

// A saved config's ui.log_max_mb and ui.log_backups apply at once: the
// next lines rotate by the new size and keep the new count, at the level
// in force.
TEST_F(logging_test, new_limits_apply_while_running) {
  log::init({dir_, 1 << 20, 5, config::log_level::info, false});
  log::set_level(config::log_level::warn);
  log::set_limits(4096, 1);
  auto lg = log::get("limits");
  std::string payload(100, 'x');
  for (int i = 0; i < 300; ++i) {
    lg->warn("{} {}", i, payload);
    lg->info("hidden {}", i);
  }
  log::flush();
  EXPECT_TRUE(fs::exists(dir_ / "drover.1.log"));
  EXPECT_FALSE(fs::exists(dir_ / "drover.2.log")) << "one backup now";
  EXPECT_LE(fs::file_size(dir_ / "drover.log"), 4096u);
  EXPECT_EQ(read("drover.log").find("hidden"), std::string::npos)
      << "the level in force stays";
}

TEST_F(logging_test, level_changes_at_run_time) {
  log::init({dir_, 1 << 20, 1, config::log_level::info, false});
  auto early = log::get("early");
  early->debug("hidden-before");
  log::set_level(config::log_level::debug);
  early->debug("shown-existing-logger");
  log::get("late")->debug("shown-new-logger");
  log::set_level(config::log_level::error);
  early->warn("hidden-after");
  log::flush();
  auto text = read("drover.log");
  EXPECT_EQ(text.find("hidden-before"), std::string::npos);
  EXPECT_NE(text.find("shown-existing-logger"), std::string::npos);
  EXPECT_NE(text.find("shown-new-logger"), std::string::npos);
  EXPECT_EQ(text.find("hidden-after"), std::string::npos);
}

TEST_F(logging_test, secrets_never_reach_the_file) {
  log::set_secrets({"hunter2", "alice"});
  log::init({dir_, 1 << 20, 1, config::log_level::info, false});
  log::get("socks")->info("authenticating as {} with {}", "alice", "hunter2");
  log::flush();
  auto text = read("drover.log");
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_EQ(text.find("alice"), std::string::npos) << text;
  EXPECT_NE(text.find("authenticating as *** with ***"), std::string::npos);
}

TEST(redact, replaces_every_occurrence_longest_first) {
  log::set_secrets({"pass", "password1", ""});
  std::string s = "password1 pass passpass";
  EXPECT_TRUE(log::redact_secrets(s));
  EXPECT_EQ(s, "*** *** ******");
  std::string clean = "nothing here";
  EXPECT_FALSE(log::redact_secrets(clean));
  log::set_secrets({});
}

// A password with a quote, a backslash or a control character is quoted
// escaped: in the config's TOML, in JSON (the trace log, `status json`) and
// in CAF's printed messages (a panic's "while handling"). Each form goes.
TEST(redact, escaped_forms_of_a_secret_go_too) {
  // DEL too: TOML's writer escapes it, JSON's does not.
  const std::string secret = "p\"w\\d\x01\tx\x7f";
  log::set_secrets({secret});
  config::settings s;
  s.proxies[0].auth = true;
  s.proxies[0].login = "someone";
  s.proxies[0].password = secret;
  auto toml = config::serialize(s);
  ASSERT_EQ(toml.find(secret), std::string::npos) << "escaped in TOML";
  std::string json;
  json::append_string(json, secret);
  std::string caf_printed = "settings(\"p\\\"w\\\\d\x01\\tx\x7f\")";
  for (auto text : {toml, json, caf_printed, "raw " + secret}) {
    auto before = text;
    EXPECT_TRUE(log::redact_secrets(text)) << before;
    for (auto piece : {"p\\\"w", "d\\u0001", "\\tx", "w\\", "x\\u007f"})
      EXPECT_EQ(text.find(piece), std::string::npos) << piece << " in " << text;
  }
  log::set_secrets({});
}

TEST(redact, credential_field_names) {
  for (auto name : {"password", "proxy_password", "Login", "username",
                    "auth_token", "credentials"})
    EXPECT_TRUE(log::is_credential_field(name)) << name;
  for (auto name : {"reason", "host", "port", "actor", "event"})
    EXPECT_FALSE(log::is_credential_field(name)) << name;
}
