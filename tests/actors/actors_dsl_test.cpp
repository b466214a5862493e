// Engine actors on CAF's own deterministic test DSL (caf/test/dsl.hpp:
// expect(...) names each message, its sender and its receiver, in the order
// they must happen). The gtest suites beside this one drive whole
// scenarios; these pin single conversations, and the CAF 0.17.6 behaviour
// the capture session's ownership rests on.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/divert_reader.hpp"
#include "actors/flow_manager.hpp"
#include "actors/guard_watch.hpp"
#include "actors/procscan.hpp"
#include "actors/session_keeper.hpp"
#include "messages/atoms.hpp"
#include "tests/support/fake_capture.hpp"

// Last: the DSL's macros (expect, inject, allow) would rename what the
// headers above declare.
#define CAF_SUITE engine_actors
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

using namespace drover;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct drover_test_config : caf::actor_system_config {
  drover_test_config() { drover::add_message_types(*this); }
};

// Plays the supervisor: keeps what the actor under test tells it.
struct heard {
  std::vector<process_set> scans;
  std::vector<std::string> repairs;
  std::vector<stats_snapshot> counters;
  std::vector<caf::actor> borrowers;
};

caf::behavior supervisor_stand_in(caf::event_based_actor*,
                                  std::shared_ptr<heard> out) {
  return {
      [=](process_set& ps) { out->scans.push_back(std::move(ps)); },
      [=](atom::repair, const std::string& what) {
        out->repairs.push_back(what);
      },
      [=](stats_snapshot& s) { out->counters.push_back(s); },
      [=](atom::add, caf::actor& borrower) {
        out->borrowers.push_back(borrower);
      },
  };
}

struct fixture : test_coordinator_fixture<drover_test_config> {
  fixture()
      : told(std::make_shared<heard>()),
        parent(caf::actor_cast<supervisor_actor>(
            sys.spawn(supervisor_stand_in, told))) {
    sched.run();
  }
  ~fixture() override { end(parent); }

  std::shared_ptr<heard> told;
  supervisor_actor parent;

  /// Ends `a` and runs its end (the coordinator's run() would fire the
  /// periodic timers of the actors under test forever).
  template<class Handle>
  void end(const Handle& a) {
    self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }
};

// What a state or a behaviour saw of its monitor's mailbox at its end.
struct end_witness {
  caf::abstract_actor* monitor = nullptr;
  bool down_already_sent = true;
  void look() {
    if (auto* m = dynamic_cast<caf::scheduled_actor*>(monitor))
      down_already_sent = m->peek_at_next_mailbox_element() != nullptr;
  }
};

struct witnessed_state {
  static inline constexpr const char* name = "witnessed";
  std::shared_ptr<end_witness> witness;
  ~witnessed_state() {
    if (witness)
      witness->look();
  }
};

caf::behavior witnessed_actor(caf::stateful_actor<witnessed_state>* self,
                              std::shared_ptr<end_witness> w) {
  self->state.witness = std::move(w);
  return {[](atom::stop) {
  }};
}

// What a behaviour holds (a broker's lambdas hold their state this way,
// udp_association's injector among it) ends with the behaviour.
struct held_by_behaviour {
  std::shared_ptr<end_witness> witness;
  ~held_by_behaviour() {
    if (witness)
      witness->look();
  }
};

caf::behavior behaviour_holder(caf::event_based_actor*,
                               std::shared_ptr<end_witness> w) {
  auto held = std::make_shared<held_by_behaviour>();
  held->witness = std::move(w);
  return {[held](atom::stop) {
  }};
}

caf::behavior silent_monitor(caf::event_based_actor* self) {
  self->set_down_handler([](caf::down_msg&) {});
  return {[](atom::stop) {
  }};
}

// A session that counts its destruction.
std::unique_ptr<platform::capture_session>
counted_session(const std::shared_ptr<int>& destroyed) {
  return std::make_unique<test::fake_capture>(destroyed);
}

struct ownership_fixture : fixture {
  // Ends the actor `spawn` makes (holding a witness) while another actor
  // monitors it: what it held must be gone before its down message is on
  // its way.
  template<class Spawn>
  void check_held_ends_before_down(Spawn spawn) {
    auto observer = sys.spawn(silent_monitor);
    auto w = std::make_shared<end_witness>();
    w->monitor = caf::actor_cast<caf::abstract_actor*>(observer);
    caf::actor testee = spawn(w);
    sched.run();
    deref<caf::scheduled_actor>(observer).monitor(testee);
    self->send_exit(testee, caf::exit_reason::user_shutdown);
    sched.run_once(); // the testee ends, and nothing else runs
    CAF_CHECK(!w->down_already_sent);
    expect((caf::down_msg), from(testee).to(observer));
    end(observer);
  }

  // A session lent to `n` fresh borrowers, counting its destruction.
  std::vector<caf::actor> lend_to(session_keeper& keeper, size_t n) {
    keeper.hold(counted_session(destroyed));
    std::vector<caf::actor> borrowers;
    for (size_t i = 0; i < n; ++i) {
      borrowers.push_back(sys.spawn(silent_monitor));
      keeper.lend(borrowers.back().address());
    }
    return borrowers;
  }

  std::shared_ptr<int> destroyed = std::make_shared<int>(0);
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(session_ownership, ownership_fixture)

// The capture session's owner destroys it when a borrower's down message
// arrives; that is safe only because the borrower's state (and a broker's
// behaviour, which holds a UDP association's injector) is gone before the
// down message is sent. CAF 0.17.6 does so; a CAF that did not would fail
// here, not in the field.
CAF_TEST(a_state_ends_before_its_down_message_is_sent) {
  check_held_ends_before_down(
      [&](auto w) { return caf::actor{sys.spawn(witnessed_actor, w)}; });
}

CAF_TEST(a_behaviour_ends_before_its_down_message_is_sent) {
  check_held_ends_before_down(
      [&](auto w) { return sys.spawn(behaviour_holder, w); });
}

CAF_TEST(the_keeper_destroys_the_session_once_released_and_unborrowed) {
  session_keeper keeper;
  auto b = lend_to(keeper, 2);
  CAF_CHECK(!keeper.release());
  CAF_CHECK_EQUAL(*destroyed, 0);
  CAF_CHECK(!keeper.on_down(b[0].address()));
  CAF_CHECK(!keeper.on_down(b[0].address())); // a second word of one end
  CAF_CHECK_EQUAL(*destroyed, 0);
  CAF_CHECK(keeper.on_down(b[1].address()));
  CAF_CHECK_EQUAL(*destroyed, 1);
  CAF_CHECK(keeper.get() == nullptr);
  CAF_CHECK(!keeper.release()); // nothing left to let go
  for (auto& a : b)
    end(a);
}

CAF_TEST(a_held_session_outlives_its_borrowers_until_released) {
  session_keeper keeper;
  auto b = lend_to(keeper, 1);
  CAF_CHECK(!keeper.on_down(b[0].address())); // parts down, capture held
  CAF_CHECK_EQUAL(*destroyed, 0);
  CAF_CHECK(keeper.release());
  CAF_CHECK_EQUAL(*destroyed, 1);
  end(b[0]);
}

// The owner ends first (a panicking supervisor): the borrowers still up
// keep the session until the last has ended, then it goes.
// A new session while the last is still lent (the machine never does
// this): the old one stays with its borrowers, the new one is held.
CAF_TEST(a_new_session_never_destroys_one_still_lent) {
  session_keeper keeper;
  auto b = lend_to(keeper, 1);
  keeper.hold(counted_session(destroyed));
  CAF_CHECK_EQUAL(*destroyed, 0);
  CAF_CHECK(keeper.get() != nullptr);
  end(b[0]);
  CAF_CHECK_EQUAL(*destroyed, 1); // the old one, with its last borrower
  CAF_CHECK(keeper.release());
  CAF_CHECK_EQUAL(*destroyed, 2);
}

CAF_TEST(borrowers_keep_the_session_when_the_owner_ends_first) {
  std::vector<caf::actor> b;
  {
    session_keeper keeper;
    b = lend_to(keeper, 2);
    end(b[0]); // ended before the owner: holds no share
  }
  CAF_CHECK_EQUAL(*destroyed, 0);
  end(b[1]);
  CAF_CHECK_EQUAL(*destroyed, 1);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

// A capture session that records which processes became targets.
class recording_session : public test::fake_capture {
public:
  std::set<uint32_t> targets, blocked, forgotten;
  std::map<uint32_t, uint64_t> created; // as the scan told it
  int take_ups = 0;
  int left_alone = 0; // take-ups to answer "left alone" (gone meanwhile)
  platform::take_up add_target(uint32_t pid, uint64_t when,
                               std::string&) override {
    ++take_ups;
    if (left_alone > 0) {
      --left_alone;
      return platform::take_up::left_alone;
    }
    targets.insert(pid);
    created[pid] = when;
    return platform::take_up::taken;
  }
  platform::take_up block_target(uint32_t pid, uint64_t when,
                                 std::string&) override {
    blocked.insert(pid);
    created[pid] = when;
    return platform::take_up::taken;
  }
  void forget_target(uint32_t pid) override {
    targets.erase(pid);
    forgotten.insert(pid);
  }
};

// One `proxy` rule named "test rule" for these names.
std::vector<config::app_rule> rules_for(std::vector<std::string> names) {
  config::app_rule r;
  r.name = "test rule";
  r.apps = std::move(names);
  return {r};
}

// A process of its own name, for procscan to find.
struct named_child {
  fs::path dir;
  std::string name;
  pid_t pid = -1;

  named_child() {
    name = "drover-dsl-" + std::to_string(::getpid());
    dir = fs::temp_directory_path() / name;
    fs::create_directories(dir);
    fs::copy_file("/bin/sleep", dir / name,
                  fs::copy_options::overwrite_existing);
    pid = ::fork();
    if (pid == 0) {
      auto path = (dir / name).string();
      ::execl(path.c_str(), name.c_str(), "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  void end() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~named_child() {
    end();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// When `pid` started (/proc/PID/stat's 22nd field, clock ticks since
// boot), read here without the product's parser; 0 when unreadable.
uint64_t start_time(pid_t pid) {
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields{line.substr(close + 2)};
  std::string field;
  for (int i = 3; i < 22 && fields >> field; ++i) {}
  uint64_t started = 0;
  fields >> started;
  return started;
}

// /proc shows the child under its new name once it has exec'd.
bool shows_as(pid_t pid, const std::string& name) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream comm{"/proc/" + std::to_string(pid) + "/comm"};
    std::string seen;
    std::getline(comm, seen);
    if (seen == name.substr(0, 15))
      return true;
    std::this_thread::sleep_for(10ms); // bounded: at most 5 s
  }
  return false;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(procscan_conversation, fixture)

CAF_TEST(procscan_makes_a_found_target_a_target_and_forgets_it_when_gone) {
  named_child child;
  CAF_REQUIRE(child.pid > 0);
  CAF_REQUIRE(shows_as(child.pid, child.name));
  recording_session session;
  auto scanner
      = sys.spawn(procscan, static_cast<platform::capture_session*>(&session),
                  rules_for({child.name}), parent);
  // Its first scan, at once (as it starts): the child is found, made a
  // target, and the supervisor hears which targets run.
  sched.run_once();
  expect((process_set), from(scanner).to(parent));
  CAF_REQUIRE_EQUAL(told->scans.size(), 1u);
  auto& found = told->scans.back();
  CAF_REQUIRE_EQUAL(found.processes.size(), 1u);
  CAF_CHECK_EQUAL(found.processes[0].pid, static_cast<uint32_t>(child.pid));
  CAF_CHECK_EQUAL(found.processes[0].rule, "test rule");
  CAF_CHECK_EQUAL(session.targets.count(static_cast<uint32_t>(child.pid)), 1u);
  // With its start time, so that another program under its ID by the time
  // the capture takes it up is left alone (socket_adoption's test).
  auto started = start_time(child.pid);
  CAF_CHECK_NOT_EQUAL(started, 0u);
  CAF_CHECK_EQUAL(session.created[static_cast<uint32_t>(child.pid)], started);
  // Gone: forgotten (its PID may come back as another program), and the
  // supervisor hears that no target runs.
  child.end();
  self->send(scanner, atom::scan_v);
  expect((atom::scan), from(self).to(scanner));
  expect((process_set), from(scanner).to(parent));
  CAF_REQUIRE_EQUAL(told->scans.size(), 2u);
  auto& after = told->scans.back();
  CAF_CHECK(after.processes.empty());
  CAF_CHECK(after.generation > told->scans.front().generation);
  CAF_CHECK(session.targets.empty());
  CAF_CHECK_EQUAL(session.forgotten.size(), 1u);
  end(scanner);
}

CAF_TEST(procscan_blocks_what_a_block_rule_matches_and_lists_it_not) {
  named_child child;
  CAF_REQUIRE(child.pid > 0);
  CAF_REQUIRE(shows_as(child.pid, child.name));
  recording_session session;
  auto rules = rules_for({child.name});
  rules[0].action = config::rule_action::block;
  auto scanner
      = sys.spawn(procscan, static_cast<platform::capture_session*>(&session),
                  rules, parent);
  sched.run_once();
  CAF_CHECK_EQUAL(session.blocked.count(static_cast<uint32_t>(child.pid)), 1u);
  CAF_CHECK(session.targets.empty());
  end(scanner);
}

// A take-up that found the process gone (or another program under its ID)
// is not counted as done: the ID is taken up afresh at the next scan, and
// only once it is taken, not again after.
CAF_TEST(procscan_looks_again_at_an_id_left_alone) {
  named_child child;
  CAF_REQUIRE(child.pid > 0);
  CAF_REQUIRE(shows_as(child.pid, child.name));
  recording_session session;
  session.left_alone = 1;
  auto scanner
      = sys.spawn(procscan, static_cast<platform::capture_session*>(&session),
                  rules_for({child.name}), parent);
  sched.run_once();
  CAF_CHECK_EQUAL(session.take_ups, 1);
  CAF_CHECK(session.targets.empty());
  for (int scan = 0; scan < 2; ++scan) {
    self->send(scanner, atom::scan_v);
    expect((atom::scan), from(self).to(scanner));
  }
  CAF_CHECK_EQUAL(session.take_ups, 2);
  CAF_CHECK_EQUAL(session.targets.count(static_cast<uint32_t>(child.pid)), 1u);
  end(scanner);
}

CAF_TEST(procscan_says_nothing_while_nothing_changes) {
  recording_session session;
  auto scanner
      = sys.spawn(procscan, static_cast<platform::capture_session*>(&session),
                  rules_for({"no-such-program-here"}), parent);
  sched.run_once(); // starts, and scans
  disallow((process_set), from(scanner).to(parent));
  self->send(scanner, atom::scan_v);
  expect((atom::scan), from(self).to(scanner));
  disallow((process_set), from(scanner).to(parent));
  CAF_CHECK(told->scans.empty());
  end(scanner);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(guard_watch_conversation, fixture)

CAF_TEST(the_watchdog_reports_each_repair_and_a_failure_once) {
  auto guard = std::make_shared<test::fake_guard>();
  auto watch = sys.spawn(guard_watch, guard, parent, 1000ms);
  sched.run();
  guard->to_repair = "the capture rules had been removed";
  sched.advance_time(1s);
  expect((atom::internal), from(watch).to(watch));
  expect(
      (atom::repair, std::string),
      from(watch).to(parent).with(
          atom::repair_v,
          "put the capture back in place: the capture rules had been removed"));
  // Nothing missing: nothing said.
  sched.advance_time(1s);
  expect((atom::internal), from(watch).to(watch));
  disallow((atom::repair, std::string), from(watch).to(parent));
  // A failure to repair: said once, not every second.
  guard->fail_repair = "nft: permission denied";
  sched.advance_time(1s);
  expect((atom::internal), from(watch).to(watch));
  expect((atom::repair, std::string),
         from(watch).to(parent).with(
             atom::repair_v,
             "cannot put the capture back in place: nft: permission denied"));
  sched.advance_time(1s);
  expect((atom::internal), from(watch).to(watch));
  disallow((atom::repair, std::string), from(watch).to(parent));
  CAF_CHECK_EQUAL(told->repairs.size(), 2u);
  end(watch);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

// A packet port the test feeds: receive() waits for the test's word.
class fed_port : public test::fake_port {
public:
  receive_status receive(packet_batch_buffer& batch) override {
    std::unique_lock<std::mutex> lock{mutex_};
    changed_.wait(lock, [&] { return stopped_ || !script_.empty(); });
    if (stopped_)
      return receive_status::stopped;
    auto next = script_.front();
    script_.pop_front();
    if (next == receive_status::packets) {
      batch.packets.clear();
      captured_packet p;
      p.id = 7;
      p.length = 20;
      batch.packets.push_back(p);
    }
    return next;
  }
  void feed(receive_status s) {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      script_.push_back(s);
    }
    changed_.notify_all();
  }
  void stop() override {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      stopped_ = true;
    }
    changed_.notify_all();
    stops++;
  }
  std::string last_error() const override { return "the handle is gone"; }
  std::atomic<int> stops{0};

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<receive_status> script_;
  bool stopped_ = false;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(divert_reader_conversation, fixture)

// The receive thread is real (it blocks in the port); what it says goes
// through the actors' mailboxes like any message.
CAF_TEST(the_reader_hands_batches_over_and_quits_when_the_handle_is_lost) {
  fed_port port;
  auto sink = caf::actor_cast<flow_manager_actor>(self);
  auto reader = sys.spawn(divert_reader,
                          static_cast<platform::packet_port*>(&port), sink);
  sched.run();
  self->monitor(reader);
  port.feed(platform::packet_port::receive_status::packets);
  packet_batch got;
  self->receive([&](packet_batch& b) { got = std::move(b); },
                caf::after(10s) >> [] { CAF_FAIL("no batch came"); });
  CAF_REQUIRE(got.buffer != nullptr);
  CAF_REQUIRE_EQUAL(got.buffer->packets.size(), 1u);
  CAF_CHECK_EQUAL(got.buffer->packets[0].id, 7u);
  // The handle fails: the thread tells the actor, which quits with
  // driver_lost (the supervisor's cue to reopen).
  port.feed(platform::packet_port::receive_status::failed);
  for (int i = 0; i < 1000 && !sched.has_job(); ++i)
    std::this_thread::sleep_for(5ms); // bounded: the thread's message
  expect((atom::internal, std::string), from(_).to(reader));
  caf::error reason;
  self->receive([&](caf::down_msg& d) { reason = d.reason; },
                caf::after(10s) >> [] { CAF_FAIL("the reader did not end"); });
  CAF_CHECK_EQUAL(reason,
                  caf::make_error(ec::driver_lost, "the handle is gone"));
  CAF_CHECK_EQUAL(port.stops.load(), 1);
}

CAF_TEST(the_reader_joins_its_thread_before_it_is_down) {
  fed_port port;
  auto reader
      = sys.spawn(divert_reader, static_cast<platform::packet_port*>(&port),
                  caf::actor_cast<flow_manager_actor>(self));
  sched.run();
  self->monitor(reader);
  self->send_exit(reader, caf::exit_reason::user_shutdown);
  sched.run();
  // The down message is here, so the port was stopped and the thread that
  // used it is over: the port may go now (it does, at this scope's end).
  self->receive([](caf::down_msg&) {},
                caf::after(10s) >> [] { CAF_FAIL("the reader did not end"); });
  CAF_CHECK_EQUAL(port.stops.load(), 1);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(flow_manager_conversation, fixture)

// The counters go to the supervisor each second, unasked.
CAF_TEST(the_flow_manager_pushes_its_counters_each_second) {
  test::fake_capture session;
  flow_manager_config fc;
  fc.listener = {net::nat_shape::loopback, 15001};
  fc.table.max_flows = 8;
  fc.sweep_interval = std::chrono::hours{1}; // not in this conversation
  fc.parent = parent;
  auto fm = sys.spawn(flow_manager,
                      static_cast<platform::capture_session*>(&session), fc);
  sched.run();
  CAF_CHECK(told->counters.empty());
  sched.advance_time(1s);
  expect((atom::stats), from(fm).to(fm));
  expect((stats_snapshot), from(fm).to(parent));
  CAF_REQUIRE_EQUAL(told->counters.size(), 1u);
  CAF_CHECK_EQUAL(told->counters[0].tcp_flows, 0u);
  sched.advance_time(1s);
  expect((atom::stats), from(fm).to(fm));
  expect((stats_snapshot), from(fm).to(parent));
  CAF_CHECK_EQUAL(told->counters.size(), 2u);
  end(fm);
}

CAF_TEST_FIXTURE_SCOPE_END()
