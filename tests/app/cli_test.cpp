#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "actors/check_report.hpp"
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

// -- drover check ---------------------------------------------------------

namespace {

probe_result udp_refused() {
  probe_result r;
  r.verdict = probe_verdict::path_failed;
  r.steps = {{"TCP connect", true, 1200, ""},
             {"greeting", true, 300, ""},
             {"CONNECT discord.com:443", true, 35000, "connected"},
             {"UDP ASSOCIATE", false, 800,
              "the proxy does not relay \"UDP\": Discord voice will not work"}};
  r.reason = "UDP ASSOCIATE: the proxy does not relay UDP";
  return r;
}

} // namespace

TEST(check_report, text_lists_each_step_with_its_time_and_verdict) {
  auto text = check_text(udp_refused(), "proxy.example:1080");
  EXPECT_NE(text.find("Checking the proxy proxy.example:1080\n"),
            std::string::npos);
  EXPECT_NE(text.find("  ok    CONNECT discord.com:443  35.0 ms\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  FAIL  UDP ASSOCIATE            0.8 ms\n"
                      "        the proxy does not relay \"UDP\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("not everything works through it (UDP ASSOCIATE)"),
            std::string::npos)
      << text;
}

TEST(check_report, json_has_stable_fields_and_escapes) {
  auto json = check_json(udp_refused(), "proxy.example:1080");
  EXPECT_EQ(json.rfind("{\"proxy\":\"proxy.example:1080\",\"ok\":false,"
                       "\"tcp_only\":false,",
                       0),
            0u)
      << json;
  EXPECT_NE(json.find("{\"name\":\"UDP ASSOCIATE\",\"ok\":false,\"ms\":0.8,"
                      "\"detail\":\"the proxy does not relay \\\"UDP\\\""),
            std::string::npos)
      << json;
}

TEST(check_report, the_summary_says_what_a_result_means) {
  probe_result ok;
  ok.verdict = probe_verdict::ok;
  EXPECT_NE(check_summary(ok).find("Discord's chat and voice"),
            std::string::npos);
  probe_result down;
  down.verdict = probe_verdict::unreachable;
  down.reason = "TCP connect: Connection refused";
  EXPECT_NE(check_summary(down).find("Drover cannot use this proxy"),
            std::string::npos);
  auto tcp_only = udp_refused();
  tcp_only.verdict = probe_verdict::tcp_only;
  tcp_only.udp_refused = true;
  tcp_only.udp_detail = "proxy refused: command not supported";
  auto summary = check_summary(tcp_only);
  EXPECT_NE(summary.find("TCP works through this proxy, but it does not "
                         "relay UDP (proxy refused: command not supported)"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("voice cannot"), std::string::npos) << summary;
  EXPECT_NE(check_json(tcp_only, "p:1").find("\"tcp_only\":true"),
            std::string::npos);
}

TEST(cli, check_refuses_a_bad_target_before_touching_the_network) {
  auto cfg = write_temp("drover-check-cli.toml", "");
  auto r = drover_cli(
      {"check", "--config", cfg.string(), "--tcp-target", "discord.com"});
  EXPECT_EQ(r.code, cli::exit_failure);
  EXPECT_NE(r.err.find("--tcp-target must be a host name or IPv4 address and "
                       "a port, such as discord.com:443, got \"discord.com\""),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = drover_cli({"check", "--config", cfg.string(), "--timeout", "forever"});
  EXPECT_EQ(r.code, cli::exit_failure);
  EXPECT_NE(r.err.find("--timeout must be a duration"), std::string::npos);
}
