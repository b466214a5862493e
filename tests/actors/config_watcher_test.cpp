// The config-watcher's parts: what counts as a change of which section, the
// file watch on a real folder (inotify), including the write-and-rename
// that editors and Drover's own save use, and the config store's `config
// set` on CAF's deterministic coordinator.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include <caf/event_based_actor.hpp>

#include "actors/config_watcher.hpp"
#include "actors/platform/file_watch.hpp"
#include "tests/support/caf_test.hpp"

using namespace drover;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(config_diff, each_section_is_told_apart) {
  config::settings a;
  EXPECT_FALSE(diff(a, a).settings) << "no change, nothing to send";
  auto b = a;
  b.proxies[0].port = 1081;
  auto c = diff(a, b);
  ASSERT_TRUE(c.settings);
  EXPECT_EQ(c.settings->proxies[0].port, 1081);
  EXPECT_TRUE(c.proxy_changed);
  EXPECT_FALSE(c.targets_changed || c.rules_changed || c.skip_changed
               || c.ui_changed || c.engine_changed);
  b = a;
  b.rules[0].apps = {"x"};
  b.ui.level = config::log_level::debug;
  c = diff(a, b);
  EXPECT_TRUE(c.rules_changed && c.ui_changed);
  EXPECT_FALSE(c.targets_changed);
  b = a;
  b.targets.when_not_proxying = config::not_proxying::direct;
  c = diff(a, b);
  EXPECT_TRUE(c.targets_changed);
  EXPECT_FALSE(c.rules_changed);
  EXPECT_FALSE(c.proxy_changed || c.skip_changed || c.engine_changed);
  b = a;
  b.check.udp_target.port = 3478;
  c = diff(a, b);
  EXPECT_TRUE(c.settings) << "[check] is a change (for the next check)";
  EXPECT_FALSE(c.proxy_changed || c.targets_changed || c.skip_changed
               || c.ui_changed || c.engine_changed || c.metrics_changed);
  // [engine]: its reconnect timing applies live; its flow keys restart the
  // parts.
  b = a;
  b.engine.reconnect_backoff_max = 10s;
  c = diff(a, b);
  EXPECT_TRUE(c.engine_changed);
  EXPECT_FALSE(c.engine_parts_changed);
  b.engine.max_flows = 100;
  EXPECT_TRUE(diff(a, b).engine_parts_changed);
  b = a;
  b.engine.udp_idle_timeout = 1min;
  EXPECT_TRUE(diff(a, b).engine_parts_changed);
  b = a;
  b.metrics.listen = config::host_port{"127.0.0.1", 9464};
  c = diff(a, b);
  EXPECT_TRUE(c.metrics_changed);
  EXPECT_FALSE(c.engine_changed || c.ui_changed);
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

// The config store: `config set` validated, written and applied once.
namespace {

struct heard {
  std::vector<config_changed> changes;
  std::vector<config_error> errors;
};

caf::behavior fake_supervisor(caf::event_based_actor*,
                              std::shared_ptr<heard> out) {
  return {[=](const config_changed& c) { out->changes.push_back(c); },
          [=](const config_error& e) {
            out->errors.push_back(e);
          }};
}

std::string read(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class config_store_test : public test::caf_fixture {
protected:
  config_store_test() {
    config::settings s;
    s.proxies[0].auth = true;
    s.proxies[0].login = "alice";
    s.proxies[0].password = "s3cret";
    config::config_file file{path};
    EXPECT_EQ(file.save(s), "");
    auto sup
        = caf::actor_cast<supervisor_actor>(sys.spawn(fake_supervisor, said));
    store = sys.spawn(config_watcher, file, sup, false);
    run();
  }
  ~config_store_test() override {
    self->send_exit(store, caf::exit_reason::user_shutdown);
    run();
  }

  folder f;
  fs::path path = f.dir / "config.toml";
  std::shared_ptr<heard> said = std::make_shared<heard>();
  config_watcher_actor store;
};

} // namespace

TEST_F(config_store_test, a_valid_config_is_written_as_sent_and_applied_once) {
  auto text = read(path);
  auto pos = text.find("port = 12334");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 12, "port = 1081 # mine");
  EXPECT_EQ(ask<std::string>(store, atom::update_v, text), "ok\n");
  EXPECT_EQ(read(path), text) << "written as sent, comments and all";
  ASSERT_EQ(said->changes.size(), 1u);
  EXPECT_TRUE(said->changes[0].proxy_changed);
  EXPECT_EQ(said->changes[0].settings->proxies[0].port, 1081);
  // The file watch sees the write: the same text, nothing more to apply.
  self->send(store, atom::reload_v);
  advance(config_watcher_state::quiet_time + 50ms);
  EXPECT_EQ(said->changes.size(), 1u);
  EXPECT_TRUE(said->errors.empty());
}

TEST_F(config_store_test, an_invalid_config_is_refused_and_nothing_changes) {
  auto before = read(path);
  auto answer = ask<std::string>(store, atom::update_v,
                                 std::string{"[proxy]\nport = 0\n"});
  EXPECT_EQ(answer.rfind("error\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("proxy.port"), std::string::npos) << answer;
  EXPECT_EQ(read(path), before);
  EXPECT_TRUE(said->changes.empty());
}

TEST_F(config_store_test, the_password_placeholder_keeps_the_password) {
  auto text = read(path);
  auto pos = text.find("\"s3cret\"");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 8, "\"<stored password>\"");
  text += "\n"; // a change of its own, so it is written
  EXPECT_EQ(ask<std::string>(store, atom::update_v, text), "ok\n");
  EXPECT_NE(read(path).find("\"s3cret\""), std::string::npos);
  EXPECT_EQ(read(path).find("<stored password>"), std::string::npos);
}
