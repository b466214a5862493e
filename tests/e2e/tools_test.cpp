// Programs nobody here wrote, as the user's target, as a new user would
// try Drover: iperf3 measuring through `drover run`, its TCP both ways and
// its UDP both ways, against the real dante on the real kernel path.

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

// A number from iperf3's JSON report: the first `"key": N` after `after`
// ("sum_received": the receiver's totals, in the report's "end" only).
double json_number(const std::string& json, const std::string& after,
                   const std::string& key) {
  auto from = json.find("\"" + after + "\"");
  std::smatch m;
  std::string rest = from == std::string::npos ? "" : json.substr(from);
  if (!std::regex_search(rest, m,
                         std::regex{"\"" + key + "\":\\s*([0-9.e+-]+)"}))
    return -1;
  return std::stod(m[1].str());
}

} // namespace

// iperf3's control connection and its data: TCP streams upload and
// download (-R), then UDP datagrams both ways (UDP ASSOCIATE; its "hello"
// datagram and the server's answer come back from the server's address).
// The server sees the proxy for every test and nothing arrives from the
// application's own address.
TEST_F(engine_e2e, iperf3_runs_through_the_proxy_tcp_and_udp_both_ways) {
  if (!drover::test::have_command("iperf3"))
    GTEST_SKIP() << "needs iperf3 (scripts/setup.sh test)";
  child server{{"ip", "netns", "exec", w->remote.name(), "iperf3", "-s", "-B",
                server_ip, "-p", "5201", "--forceflush"}};
  ASSERT_TRUE(server.wait_for_output("Server listening", 10s))
      << server.output();
  direct_counter direct{*w};
  auto config = w->config();
  struct run {
    const char* what;
    std::vector<std::string> args;
    bool udp;
  };
  int tests = 0;
  for (const auto& r :
       {run{"TCP upload", {}, false}, run{"TCP download", {"-R"}, false},
        run{"UDP upload", {"-u", "-b", "5M"}, true},
        run{"UDP download", {"-u", "-b", "5M", "-R"}, true}}) {
    // The server takes one test at a time and says when it listens again;
    // a client before that is told "busy".
    ASSERT_TRUE(drover::test::eventually(
        [&] { return count(server.output(), "Server listening") > tests; },
        10s))
        << server.output();
    ++tests;
    std::vector<std::string> argv{
        "ip",          "netns",  "exec",     w->app.name(),
        DROVER_BINARY, "run",    "--config", config.string(),
        "--",          "iperf3", "-c",       server_ip,
        "-p",          "5201",   "-t",       "1",
        "-J"};
    argv.insert(argv.end(), r.args.begin(), r.args.end());
    child client{argv, w->env()};
    ASSERT_EQ(client.wait(60s), 0) << r.what << ":\n"
                                   << client.output() << server.output();
    auto& json = client.output();
    EXPECT_EQ(json.find("\"error\""), std::string::npos) << r.what << json;
    if (r.udp) {
      // The receiver's count (the server's, upload: reported back over
      // the control connection).
      EXPECT_GT(json_number(json, "sum_received", "packets"), 0)
          << r.what << json;
      auto lost = json_number(json, "sum_received", "lost_percent");
      EXPECT_GE(lost, 0) << r.what << json;
      EXPECT_LT(lost, 50) << r.what << ": most datagrams arrived\n" << json;
    } else {
      EXPECT_GT(json_number(json, "sum_received", "bytes"), 1 << 20)
          << r.what << json;
    }
  }
  auto seen = server.output();
  EXPECT_EQ(count(seen, "Accepted connection from " + proxy_ip), 4) << seen;
  EXPECT_EQ(seen.find(app_ip), std::string::npos)
      << "the server saw the application itself:\n"
      << seen;
  EXPECT_EQ(direct.packets(), 0) << "nothing went around the proxy";
}
