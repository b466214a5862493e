// The engine's local servers, the control server (actors/control_server.cpp,
// on a real local socket) and the metrics endpoint (metrics_server.cpp, on
// loopback), on CAF's middleman, each with a stand-in supervisor that
// answers when the test says so (Linux).

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>

#include "actors/control_server.hpp"
#include "actors/metrics_server.hpp"
#include "actors/platform/sockets.hpp"
#include "messages/atoms.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/stream_client.hpp"

using namespace drover;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A client of the control socket at `path`, connected by connect().
class client : public test::stream_client {
public:
  explicit client(std::string path)
      : stream_client(AF_UNIX), path_(std::move(path)) {}
  bool connect() { return connect_unix(path_); }
  void say(const std::string& line) {
    ASSERT_TRUE(stream_client::say(line + "\n"));
  }

private:
  std::string path_;
};

// A request the stand-in supervisor holds until the test sends it
// `atom::retry`.
struct held_answer {
  std::atomic<bool> asked{false};
};

// The supervisor's part in `fault WHAT`: "fast" answered at once, "slow"
// when told.

caf::behavior stand_in_supervisor(caf::event_based_actor* self,
                                  std::shared_ptr<held_answer> held) {
  auto pending = std::make_shared<caf::response_promise>();
  return {
      [=](atom::fault, const std::string& what) -> caf::result<std::string> {
        if (what != "slow")
          return what;
        *pending = self->make_response_promise();
        held->asked = true;
        return caf::delegated<std::string>{};
      },
      [=](atom::retry) { pending->deliver(std::string{"slow"}); },
  };
}

// The supervisor's part in a scrape: its status, the first one when told.
caf::behavior stand_in_for_metrics(caf::event_based_actor* self,
                                   std::shared_ptr<held_answer> held) {
  auto pending = std::make_shared<caf::response_promise>();
  return {
      [=](atom::get, atom::status) -> caf::result<engine_status> {
        if (held->asked)
          return engine_status{};
        *pending = self->make_response_promise();
        held->asked = true;
        return caf::delegated<engine_status>{};
      },
      [=](atom::retry) { pending->deliver(engine_status{}); },
  };
}

class local_server : public ::testing::Test {
protected:
  void SetUp() override {
    add_message_types(cfg);
    cfg.load<caf::io::middleman>();
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    held = std::make_shared<held_answer>();
  }
  void TearDown() override {
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sys.reset();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<held_answer> held;
  caf::actor sup;
  caf::actor server;
};

class control_server_test : public local_server {
protected:
  void SetUp() override {
    local_server::SetUp();
    dir = fs::temp_directory_path()
          / ("drover-control-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    path = (dir / "control.sock").string();
    std::string error;
    auto fd = platform::listen_local(path, error);
    ASSERT_NE(fd, platform::invalid_socket) << error;
    sup = sys->spawn(stand_in_supervisor, held);
    server = sys->middleman().spawn_broker(
        control_server, fd, caf::actor_cast<supervisor_actor>(sup),
        control_paths{path, (dir / "config.toml").string()});
  }
  void TearDown() override {
    local_server::TearDown();
    fs::remove_all(dir);
  }

  fs::path dir;
  std::string path;
};

class metrics_server_test : public local_server {
protected:
  void SetUp() override {
    local_server::SetUp();
    port = test::free_loopback_port();
    sup = sys->spawn(stand_in_for_metrics, held);
    server = sys->middleman().spawn_broker(
        metrics_server, caf::actor_cast<supervisor_actor>(sup),
        config::host_port{"127.0.0.1", port});
    // It listens once the broker has started.
    ASSERT_TRUE(test::eventually(
        [&] { return test::stream_client{AF_INET}.connect_loopback(port); },
        10s, 1ms));
  }

  uint16_t port = 0;
};

} // namespace

// An answer the engine works out after its client has left goes nowhere:
// not to a newer client that got the same descriptor (the server's
// connection handle is the descriptor), nor does it end that client's
// connection; each newer client gets its own answer.
TEST_F(control_server_test, an_answer_whose_client_left_reaches_nobody_else) {
  auto leaving = std::make_unique<client>(path);
  client probe{path}, sync{path}, after{path};
  std::vector<std::unique_ptr<client>> waiting;
  for (int i = 0; i < 8; ++i)
    waiting.push_back(std::make_unique<client>(path));
  ASSERT_TRUE(leaving->connect());
  leaving->say("fault slow");
  ASSERT_TRUE(test::eventually([&] { return held->asked.load(); }, 10s, 1ms));
  leaving.reset(); // it leaves before its answer
  // Once this one has its answer, the server has seen the first leave.
  ASSERT_TRUE(probe.connect());
  probe.say("fault fast");
  ASSERT_EQ(probe.answer(), "fast\n");
  // Newer clients, connected while the answer is still to come: the
  // server's lowest free descriptors, the departed client's among them.
  for (auto& c : waiting)
    ASSERT_TRUE(c->connect());
  ASSERT_TRUE(sync.connect()); // the waiting ones are accepted once this
  sync.say("fault fast");      // has its answer
  ASSERT_EQ(sync.answer(), "fast\n");
  caf::anon_send(sup, atom::retry_v); // the departed client's answer
  ASSERT_TRUE(after.connect()); // it has been dealt with once this answers
  after.say("fault fast");
  ASSERT_EQ(after.answer(), "fast\n");
  for (auto& c : waiting)
    EXPECT_EQ(c->so_far(), "") << "a waiting client got another's answer";
  for (auto& c : waiting) {
    c->say("fault mine");
    EXPECT_EQ(c->answer(), "mine\n");
  }
}

// The same for a scrape of the metrics endpoint.
TEST_F(metrics_server_test, a_scrape_whose_client_left_reaches_nobody_else) {
  const std::string scrape = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  auto leaving = std::make_unique<test::stream_client>(AF_INET);
  test::stream_client probe{AF_INET}, sync{AF_INET}, after{AF_INET};
  std::vector<std::unique_ptr<test::stream_client>> waiting;
  for (int i = 0; i < 8; ++i)
    waiting.push_back(std::make_unique<test::stream_client>(AF_INET));
  ASSERT_TRUE(leaving->connect_loopback(port));
  ASSERT_TRUE(leaving->say(scrape));
  ASSERT_TRUE(test::eventually([&] { return held->asked.load(); }, 10s, 1ms));
  leaving.reset(); // it leaves before its answer
  auto ok = [](const std::string& answer) {
    return answer.rfind("HTTP/1.1 200", 0) == 0;
  };
  ASSERT_TRUE(probe.connect_loopback(port));
  ASSERT_TRUE(probe.say(scrape));
  ASSERT_TRUE(ok(probe.answer()));
  for (auto& c : waiting)
    ASSERT_TRUE(c->connect_loopback(port));
  ASSERT_TRUE(sync.connect_loopback(port));
  ASSERT_TRUE(sync.say(scrape));
  ASSERT_TRUE(ok(sync.answer()));
  caf::anon_send(sup, atom::retry_v); // the departed client's answer
  ASSERT_TRUE(after.connect_loopback(port));
  ASSERT_TRUE(after.say(scrape));
  ASSERT_TRUE(ok(after.answer()));
  for (auto& c : waiting)
    EXPECT_EQ(c->so_far(), "") << "a waiting client got another's answer";
  for (auto& c : waiting) {
    ASSERT_TRUE(c->say(scrape));
    auto answer = c->answer();
    EXPECT_TRUE(ok(answer)) << answer;
  }
}
