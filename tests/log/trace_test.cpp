#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "actors/log/redact.hpp"
#include "actors/log/trace.hpp"

using namespace drover;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {

system_clock::time_point at_ms(int64_t ms) {
  return system_clock::time_point{milliseconds{ms}};
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

TEST(trace_format, timestamps_are_rfc3339_utc_with_milliseconds) {
  EXPECT_EQ(trace::format_timestamp(at_ms(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(trace::format_timestamp(at_ms(1700000000123)),
            "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(trace::format_timestamp(at_ms(951782400000)), // leap day
            "2000-02-29T00:00:00.000Z");
}

TEST(trace_format, stable_fields_first_then_event_fields) {
  auto line = trace::format_record(at_ms(0), "supervisor", "state",
                                   {{"from", "idle"},
                                    {"attempt", 3},
                                    {"bytes", uint64_t{18446744073709551615u}},
                                    {"ok", true},
                                    {"ratio", 0.5},
                                    {"delta", -2}});
  EXPECT_EQ(line,
            "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"actor\":\"supervisor\","
            "\"event\":\"state\",\"from\":\"idle\",\"attempt\":3,"
            "\"bytes\":18446744073709551615,\"ok\":true,\"ratio\":0.5,"
            "\"delta\":-2}");
}

TEST(trace_format, strings_are_escaped) {
  auto line = trace::format_record(at_ms(0), "a\"b", "e",
                                   {{"text", "line\nnext\t\\ \x01"}});
  EXPECT_NE(line.find("\"actor\":\"a\\\"b\""), std::string::npos);
  EXPECT_NE(line.find("\"text\":\"line\\nnext\\t\\\\ \\u0001\""),
            std::string::npos)
      << line;
}

TEST(trace_format, credential_fields_are_redacted_by_name) {
  auto line = trace::format_record(
      at_ms(0), "socks-session-1", "auth",
      {{"login", "alice"}, {"password", "hunter2"}, {"proxy_password", 1234}});
  EXPECT_EQ(line.find("alice"), std::string::npos) << line;
  EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  EXPECT_EQ(line.find("1234"), std::string::npos) << line;
  EXPECT_NE(line.find("\"password\":\"***\""), std::string::npos) << line;
}

TEST(trace_format, secret_values_are_redacted_anywhere) {
  log::set_secrets({"alice", "hunter2"});
  auto line = trace::format_record(
      at_ms(0), "supervisor", "failed",
      {{"reason", "proxy rejected alice (password hunter2)"}});
  log::set_secrets({});
  EXPECT_EQ(line.find("alice"), std::string::npos) << line;
  EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
  EXPECT_NE(line.find("proxy rejected *** (password ***)"), std::string::npos);
}

TEST(trace_file, records_only_while_enabled_and_redacts) {
  auto dir = fs::temp_directory_path() / "drover-trace-test";
  fs::remove_all(dir);
  trace::open({dir, 1 << 20, 1});
  trace::enable(false);
  trace::record("supervisor", "invisible", {});
  trace::enable(true);
  EXPECT_TRUE(trace::enabled());
  log::set_secrets({"hunter2"});
  trace::record("supervisor", "state", {{"to", "active"}});
  trace::record("socks-session-7", "auth",
                {{"password", "hunter2"}, {"note", "sent hunter2"}});
  log::set_secrets({});
  trace::enable(false);
  trace::close();
  auto lines = lines_of(dir / "trace.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("{\"ts\":\"", 0), 0u);
  EXPECT_NE(lines[0].find("\"actor\":\"supervisor\",\"event\":\"state\","
                          "\"to\":\"active\"}"),
            std::string::npos);
  EXPECT_EQ(lines[1].find("hunter2"), std::string::npos) << lines[1];
  fs::remove_all(dir);
}

TEST(trace_file, rotates) {
  auto dir = fs::temp_directory_path() / "drover-trace-rotate";
  fs::remove_all(dir);
  trace::open({dir, 2048, 1});
  trace::enable(true);
  for (int i = 0; i < 100; ++i)
    trace::record("flow-manager", "verdict",
                  {{"n", i}, {"pad", std::string(40, 'p')}});
  trace::enable(false);
  trace::close();
  EXPECT_TRUE(fs::exists(dir / "trace.jsonl"));
  EXPECT_TRUE(fs::exists(dir / "trace.1.jsonl"));
  EXPECT_FALSE(fs::exists(dir / "trace.2.jsonl"));
  fs::remove_all(dir);
}

TEST(trace_recent, the_last_records_are_kept_in_memory_tracing_or_not) {
  drover::trace::enable(false);
  for (int i = 0; i < 250; ++i)
    drover::trace::record("tester", "step", {{"n", i}});
  auto recent = drover::trace::recent();
  ASSERT_EQ(recent.size(), drover::trace::recent_records);
  EXPECT_NE(recent.front().find(R"("event":"step","n":50})"), std::string::npos)
      << recent.front();
  EXPECT_NE(recent.back().find(R"("n":249})"), std::string::npos)
      << recent.back();
}
