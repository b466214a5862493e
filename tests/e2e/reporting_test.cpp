// The engine end to end on Linux, with real parts (see world.hpp): what
// it tells, `drover status`, the lifetime totals, the metrics endpoint and
// `drover report`.

#include "tests/e2e/world.hpp"
#include "tests/support/eventually.hpp"

using namespace drover::e2e;

TEST_F(engine_e2e, status_without_a_running_instance_fails) {
  auto [code, out] = w->status(false);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("not running"), std::string::npos) << out;
}

TEST_F(engine_e2e, status_reports_and_the_flow_table_drains_to_zero) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-drain-target", named);
  auto [code, text] = w->status(false);
  EXPECT_EQ(code, 0);
  EXPECT_NE(text.find("State:    Active"), std::string::npos) << text;
  child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                "wait-then-tcp", server_ip, "7", "200"}};
  ASSERT_TRUE(engine->wait_for_output("capturing e2e-drain-target", 10s))
      << engine->output();
  target.write_line("go");
  ASSERT_EQ(target.wait(60s), 0) << target.output().substr(0, 2000);
  // The relay reports a stream's bytes when it ends, a moment after the
  // target saw its last echo.
  EXPECT_TRUE(drover::test::eventually(
      [&] { return w->status_number("bytes_out") > 0; },
      std::chrono::seconds{10}, std::chrono::milliseconds{100}));
  // Closed flows linger 5 s for their last packets, then go: wait for it,
  // bounded.
  bool drained = drover::test::eventually(
      [&] {
        return w->status(true).second.find("\"flows\":[]") != std::string::npos;
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{200});
  EXPECT_TRUE(drained) << w->status(true).second.substr(0, 2000);
  EXPECT_EQ(w->status_number("tcp_flows"), 0);
}

// The lifetime totals: every run's bytes, kept in stats.json (the engine's
// state folder) when the engine ends and carried into the next run; a
// damaged file is said, set aside, and counting starts again.
TEST_F(engine_e2e, lifetime_totals_outlive_the_engine) {
  auto stats = w->dir / "state" / "drover" / "stats.json";
  auto lifetime_out = [&] {
    auto [code, out] = w->status(true);
    std::smatch m;
    if (code != 0
        || !std::regex_search(out, m,
                              std::regex{"\"lifetime\":\\{\"bytes_in\":(\\d+),"
                                         "\"bytes_out\":(\\d+),\"since\":\"("
                                         "[0-9-]+)\"\\}"}))
      return std::pair<long, std::string>{-1, out};
    return std::pair<long, std::string>{std::stol(m[2].str()), m[3].str()};
  };
  fs::path named;
  long carried = 0;
  std::string since;
  {
    auto engine = w->headless_with_target("e2e-life-target", named);
    auto first = lifetime_out();
    ASSERT_EQ(first.first, 0) << first.second;
    child target{{"ip", "netns", "exec", w->app.name(), named.string(),
                  "wait-then-tcp", server_ip, "7", "200"}};
    ASSERT_TRUE(engine->wait_for_output("capturing e2e-life-target", 10s))
        << engine->output();
    target.write_line("go");
    ASSERT_EQ(target.wait(60s), 0) << target.output().substr(0, 2000);
    ASSERT_TRUE(drover::test::eventually(
        [&] { return lifetime_out().first > 0; }, 10s, 100ms))
        << lifetime_out().second;
    std::tie(carried, since) = lifetime_out();
    engine->kill(SIGTERM);
    ASSERT_EQ(engine->wait(20s), 0) << engine->output();
  }
  std::ifstream in{stats};
  std::stringstream read;
  read << in.rdbuf();
  auto text = read.str();
  EXPECT_NE(text.find("\"bytes_out\":" + std::to_string(carried)),
            std::string::npos)
      << "written when the engine ended: " << text;
  {
    auto engine = w->headless_with_target("e2e-life-target", named);
    auto next = lifetime_out();
    EXPECT_EQ(next.first, carried) << "carried into the next run";
    EXPECT_EQ(next.second, since);
    auto [code, out] = w->status(false);
    EXPECT_NE(out.find("All time: in "), std::string::npos) << out;
    engine->kill(SIGTERM);
    engine->wait(20s);
  }
  std::ofstream{stats} << "{\"bytes_in\": lots}";
  auto engine = w->headless_with_target("e2e-life-target", named);
  EXPECT_EQ(lifetime_out().first, 0) << "counting starts again";
  auto [code, out] = w->status(false);
  EXPECT_NE(out.find("could not be read (bytes_in is not a whole number"),
            std::string::npos)
      << out;
  EXPECT_TRUE(fs::exists(stats.string() + ".damaged"));
}

// The metrics endpoint (`[metrics] listen`), scraped with curl as
// Prometheus would: the state, each proxy, the lifetime bytes; another
// path is a 404; a changed address moves it at once; a port another
// program holds is said.
TEST_F(engine_e2e, the_metrics_endpoint_answers_a_scraper) {
  if (sh("command -v curl >/dev/null") != 0)
    GTEST_SKIP() << "needs curl (scripts/setup.sh test)";
  auto metrics = [&](uint16_t port, const std::string& path = "/metrics") {
    std::vector<std::string> argv{"ip",
                                  "netns",
                                  "exec",
                                  w->app.name(),
                                  "curl",
                                  "-s",
                                  "-S",
                                  "-i",
                                  "--max-time",
                                  "5",
                                  "http://127.0.0.1:" + std::to_string(port)
                                      + path};
    child c{argv};
    c.wait(10s);
    return c.output();
  };
  fs::path named;
  auto engine = w->headless_with_target(
      "e2e-metrics-target", named, "[metrics]\nlisten = \"127.0.0.1:9464\"\n");
  auto out = metrics(9464);
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Type: text/plain; version=0.0.4"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("drover_state{state=\"active\"} 1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("drover_state{state=\"failed\"} 0"), std::string::npos);
  EXPECT_NE(out.find("drover_proxy_up{proxy=\"\",address=\"" + proxy_ip
                     + ":1080\"} 1"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("# TYPE drover_bytes_total counter"), std::string::npos);
  auto target = w->tcp_rounds(*engine, named);
  target->write_line("go");
  ASSERT_TRUE(target->wait_for_output("round ok", 20s)) << target->output();
  EXPECT_TRUE(drover::test::eventually(
      [&] {
        std::smatch m;
        auto text = metrics(9464);
        return std::regex_search(
                   text, m,
                   std::regex{
                       "drover_bytes_total\\{direction=\"out\"\\} (\\d+)"})
               && std::stol(m[1].str()) > 0;
      },
      10s, 200ms))
      << metrics(9464);
  EXPECT_NE(metrics(9464, "/").find("404 Not Found"), std::string::npos);
  // Moved by the config, at once.
  event_watch events{*w};
  auto mark = events.mark();
  std::ofstream{w->dir / "config.toml", std::ios::trunc}
      << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1080\n"
      << "[targets]\nprocesses = [\"e2e-metrics-target\"]\n"
      << "[metrics]\nlisten = \"127.0.0.1:9465\"\n";
  ASSERT_TRUE(drover::test::eventually(
      [&] {
        return metrics(9465).find("drover_state{state=\"active\"} 1")
               != std::string::npos;
      },
      10s, 200ms))
      << events.output();
  EXPECT_EQ(metrics(9464).find("200 OK"), std::string::npos)
      << "the old address is closed";
  // A port another program holds: said, in words.
  child holder{
      {"ip", "netns", "exec", w->app.name(), "python3", "-c",
       "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',"
       "9466))\ns.listen()\nprint('held',flush=True)\ntime.sleep(30)"}};
  ASSERT_TRUE(holder.wait_for_output("held", 10s)) << holder.output();
  std::ofstream{w->dir / "config.toml", std::ios::trunc}
      << "[proxy]\nhost = \"" << proxy_ip << "\"\nport = 1080\n"
      << "[targets]\nprocesses = [\"e2e-metrics-target\"]\n"
      << "[metrics]\nlisten = \"127.0.0.1:9466\"\n";
  EXPECT_TRUE(events.wait("the metrics endpoint cannot listen on "
                          "127.0.0.1:9466",
                          10s, mark))
      << events.output();
}

// `drover report` beside a running engine: one archive any unzip reads,
// with the engine's status, its config without the password, the log's
// end and the versions; the check when asked.
TEST_F(engine_e2e, a_report_archive_holds_what_a_bug_report_needs) {
  fs::path named;
  auto engine = w->headless_with_target("e2e-report-target", named);
  auto archive = w->dir / "report.zip";
  child report{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY, "report",
                "--no-check", archive.string()},
               w->env()};
  ASSERT_EQ(report.wait(30s), 0) << report.output();
  EXPECT_NE(report.output().find("Logins and passwords are not in it"),
            std::string::npos)
      << report.output();
  auto listing = sh_output("python3 -c \"import zipfile,sys\n"
                           "z=zipfile.ZipFile(sys.argv[1])\n"
                           "assert z.testzip() is None\n"
                           "print(z.namelist())\n"
                           "print(z.read('status.json').decode()[:400])\n"
                           "print('log:', len(z.read('drover.log')))\n"
                           "print(z.read('versions.txt').decode())\" "
                           + archive.string() + " 2>&1");
  EXPECT_NE(listing.find("['versions.txt', 'status.json', 'config.toml', "
                         "'drover.log']"),
            std::string::npos)
      << listing;
  EXPECT_NE(listing.find("\"state\":\"active\""), std::string::npos) << listing;
  EXPECT_EQ(listing.find("log: 0"), std::string::npos) << listing;
  EXPECT_NE(listing.find("drover "), std::string::npos) << listing;
}
