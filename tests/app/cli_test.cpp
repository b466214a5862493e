#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "app/cli.hpp"
#include "config/parse.hpp"

using namespace drover;
namespace fs = std::filesystem;

namespace {

struct outcome {
  int code;
  std::string out;
  std::string err;
};

outcome drover_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "drover");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = cli::run(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

fs::path write_temp(const std::string& name, const std::string& text) {
  auto p = fs::temp_directory_path() / name;
  std::ofstream{p, std::ios::binary | std::ios::trunc} << text;
  return p;
}

} // namespace

TEST(cli, version) {
  auto r = drover_cli({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("drover 0.", 0), 0u) << r.out;
}

TEST(cli, help_lists_the_commands) {
  auto r = drover_cli({"--help"});
  EXPECT_EQ(r.code, 0);
  for (auto word : {"--config", "--trace", "--headless", "config"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
}

TEST(cli, unknown_option_fails) {
  auto r = drover_cli({"--frobnicate"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
}

TEST(cli, config_check_ok) {
  auto p = write_temp("drover-cli-good.toml", "[proxy]\nport = 1080\n");
  auto r = drover_cli({"config", "check", p.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  fs::remove(p);
}

TEST(cli, config_check_reports_errors_with_locations) {
  auto p = write_temp("drover-cli-bad.toml",
                      "[proxy]\nhost = \"1.2.3.4\"\n\n\nport = 70000\n"
                      "[ui]\ntheme = \"pink\"\n");
  auto r = drover_cli({"config", "check", p.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("`proxy.port` must be 1..65535, got 70000 at "
                       + p.string() + ":5:8"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("`ui.theme`"), std::string::npos) << r.err;
  fs::remove(p);
}

TEST(cli, config_check_uses_the_config_option) {
  auto p = write_temp("drover-cli-opt.toml", "[proxy]\nport = 0\n");
  auto r = drover_cli({"--config", p.string(), "config", "check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("proxy.port"), std::string::npos);
  fs::remove(p);
}

TEST(cli, config_check_missing_file) {
  auto p = fs::temp_directory_path() / "drover-cli-does-not-exist.toml";
  auto r = drover_cli({"config", "check", p.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(p.string()), std::string::npos) << r.err;
}

TEST(cli, config_warnings_do_not_fail_the_check) {
  auto p = write_temp("drover-cli-warn.toml", "[proxy]\nprot = 1\n");
  auto r = drover_cli({"config", "check", p.string()});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_NE(r.err.find("warning: unknown key `proxy.prot`"), std::string::npos);
  fs::remove(p);
}

TEST(cli, config_default_prints_the_defaults) {
  auto r = drover_cli({"config", "default"});
  EXPECT_EQ(r.code, 0);
  auto parsed = config::parse(r.out, "stdout");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed.value, config::settings{});
}

TEST(cli, slash_paths_are_arguments_on_every_platform) {
  // CLI11 would take "/drover-missing/config.toml" for a Windows-style
  // "/option" on Windows; it must reach `config check` as a path.
  auto r = drover_cli({"config", "check", "/drover-missing/config.toml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot read the config file"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("/drover-missing/config.toml"), std::string::npos);
}
