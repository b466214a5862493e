// The Windows packet path end to end, under wine (divert_port_world.hpp):
// sessions (the fence between two, a reader that stops), the targets they
// take up (found by the scan, started by `drover run`, blocked) and each
// target's rule.

#include "tests/windows/divert_port_world.hpp"

using namespace drover;
using namespace drover::test::windows_divert_world;

namespace {

// A real process whose image is `name` (a copy of this test's own
// executable), started suspended: it runs nothing. Ended and removed with
// the object.
struct named_process {
  PROCESS_INFORMATION pi{};
  std::wstring path;
  std::wstring folder;

  explicit named_process(const std::wstring& name) {
    wchar_t self[MAX_PATH];
    GetModuleFileNameW(nullptr, self, MAX_PATH);
    path = std::wstring{self};
    folder = path.substr(0, path.find_last_of(L"\\/"));
    path = folder + L"\\" + name;
    EXPECT_TRUE(CopyFileW(self, path.c_str(), FALSE));
    STARTUPINFOW si{};
    si.cb = sizeof si;
    std::wstring line = L"\"" + path + L"\" --gtest_list_tests";
    EXPECT_TRUE(CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE,
                               CREATE_SUSPENDED, nullptr, nullptr, &si, &pi));
  }
  ~named_process() {
    TerminateProcess(pi.hProcess, 0);
    WaitForSingleObject(pi.hProcess, 5000);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    DeleteFileW(path.c_str());
  }
  uint32_t pid() const { return static_cast<uint32_t>(pi.dwProcessId); }
};

std::string narrow(const std::wstring& w) {
  return std::string(w.begin(), w.end()); // test paths are ASCII
}

} // namespace

// Between two sessions (a restart: the supervisor reopens the handle a
// moment later) the old session's port is read on by the fence: other
// programs' packets go out, a target's are held back (none leaks direct,
// the emulated driver's end-to-end test saw them do so when the parked
// handle was closed before the next one opened). The next session opens
// below it and closes it after; Stop (the guard released) closes it too.
TEST_F(windows_divert,
       between_sessions_the_fence_holds_targets_and_passes_others) {
  start_engine(50ms); // a short wait for an owner, for the unowned packet
  char filter[4096];
  int16_t first = 0, second = 0;
  UINT64 flags = 0, params[3] = {};
  ASSERT_TRUE(driver.info(wd::layer_network, filter, sizeof filter, &first,
                          &flags, params));
  std::string error;
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
  auto target_syn = with_source_port(syn(), 40020);
  socket(socket_event(wd::event_socket_connect, target_pid, 40020));
  socket(socket_event(wd::event_socket_bind, other_pid, 40021));
  stop_engine();
  // Both handles stay open, read by the fence.
  EXPECT_EQ(driver.open_handles(), 2);
  auto other_syn = with_source_port(syn(), 40021);
  divert(other_syn, outbound_address());
  EXPECT_EQ(next_sent().bytes, other_syn);
  auto fenced_before = guard->counters().packets_fenced;
  divert(target_syn, outbound_address());
  EXPECT_TRUE(wait_until([&] {
    return guard->counters().packets_fenced > fenced_before;
  })) << "the target's packet was not counted as stopped";
  EXPECT_FALSE(take().has_value()) << "a target's packet left between sessions";
  // A packet no process is known to own (its socket's event lost, and not
  // in the OS's tables either) may be a target's: after the wait for its
  // owner, the fence drops it, where a running session lets it out
  // (a_packet_nobody_owns_goes_out_after_the_wait).
  fenced_before = guard->counters().packets_fenced;
  auto unowned_syn = with_source_port(syn(), 40024);
  divert(unowned_syn, outbound_address());
  EXPECT_TRUE(wait_until([&] {
    return guard->counters().packets_fenced > fenced_before;
  })) << "a packet nobody owns was not stopped by the fence";
  EXPECT_FALSE(take().has_value()) << "a packet nobody owns left";

  start_engine();
  ASSERT_TRUE(driver.info(wd::layer_network, filter, sizeof filter, &second,
                          &flags, params));
  EXPECT_LT(second, first);
  EXPECT_EQ(driver.open_handles(), 2) << "the fenced handles are closed";
  stop_engine();
  EXPECT_EQ(driver.open_handles(), 2);
  guard->release(); // Stop
  EXPECT_EQ(driver.open_handles(), 0);
  guard.reset();
}

TEST_F(windows_divert, open_errors_reach_the_user_with_their_class) {
  platform::capture_options opts;
  opts.guard = platform::open_guard({}).guard;
  opts.listener = {net::nat_shape::loopback, listener_port};
  SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", "5");
  auto r = platform::open_capture(opts);
  EXPECT_FALSE(r.session);
  EXPECT_EQ(r.failure, platform::capture_failure::not_permitted);
  EXPECT_NE(r.error.find("administrator"), std::string::npos) << r.error;
  SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", "1275");
  r = platform::open_capture(opts);
  EXPECT_FALSE(r.session);
  EXPECT_EQ(r.failure, platform::capture_failure::unavailable);
  EXPECT_NE(r.error.find("antivirus"), std::string::npos) << r.error;
  SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", nullptr);
}

// `drover run -- PROGRAM`: started suspended, a target before its first
// instruction, its exit code handed back.
TEST_F(windows_divert, a_program_started_by_drover_is_a_target_from_the_start) {
  start_engine();
  std::string error;
  auto pid = session->spawn_target({"cmd.exe", "/c", "exit 3"}, 0, error);
  ASSERT_GT(pid, 0) << error;
  EXPECT_TRUE(session->is_target(static_cast<uint32_t>(pid)));
  EXPECT_EQ(platform::wait_exit_code(static_cast<unsigned long>(pid)), 3);
  session->forget_target(static_cast<uint32_t>(pid));
  EXPECT_FALSE(session->is_target(static_cast<uint32_t>(pid)));
  EXPECT_EQ(session->spawn_target({"no-such-program-here.exe"}, 0, error), -1);
  EXPECT_NE(error.find("no-such-program-here.exe"), std::string::npos) << error;
}

// `drover run` beside the running engine: the caller's program, started
// suspended as its child, is put in place (with its proxy) before it runs
// and its exit code comes back; what is not the caller's own is refused
// with a sentence, and a refused program is ended before it ran.
TEST_F(windows_divert, drover_run_puts_only_the_callers_own_in_place) {
  start_engine();
  std::string error;
  auto me = static_cast<uint32_t>(GetCurrentProcessId());
  auto program
      = platform::waiting_program::prepare({"cmd.exe", "/c", "exit 4"}, error);
  ASSERT_TRUE(program) << error;
  auto pid = static_cast<uint32_t>(program->pid());
  EXPECT_FALSE(session->is_target(pid));
  ASSERT_TRUE(session->join_target(pid, me, 0, 2, error)) << error;
  EXPECT_TRUE(session->is_target(pid));
  EXPECT_EQ(program->run(error), 4) << error;
  session->forget_target(pid);
  // Another child of this process, claimed by a caller it is no child of;
  // this process claimed by its child; a process that is not there.
  auto other
      = platform::waiting_program::prepare({"cmd.exe", "/c", "exit 0"}, error);
  ASSERT_TRUE(other) << error;
  auto claimer
      = platform::waiting_program::prepare({"cmd.exe", "/c", "exit 0"}, error);
  ASSERT_TRUE(claimer) << error;
  auto theirs = static_cast<uint32_t>(other->pid());
  auto asker = static_cast<uint32_t>(claimer->pid());
  EXPECT_FALSE(session->join_target(theirs, asker, 0, 0, error));
  EXPECT_NE(error.find("is neither yours nor a child of yours"),
            std::string::npos)
      << error;
  EXPECT_FALSE(session->join_target(me, asker, 0, 0, error));
  EXPECT_NE(error.find("is neither yours nor a child of yours"),
            std::string::npos)
      << error;
  EXPECT_FALSE(session->is_target(theirs));
  EXPECT_FALSE(session->is_target(me));
  EXPECT_FALSE(session->join_target(0x7ffffff0u, me, 0, 0, error));
  EXPECT_NE(error.find("is not running"), std::string::npos) << error;
  // Never run: ended when dropped.
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, theirs);
  ASSERT_NE(h, nullptr);
  other.reset();
  EXPECT_EQ(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
  CloseHandle(h);
}

// A process the scan never saw opens its first socket: a rule names its
// image, so that very socket's packets are captured, not passed.
TEST_F(windows_divert, a_new_target_is_captured_at_its_first_socket) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  std::string error;
  platform::target_selection t;
  t.rules.resize(1);
  t.rules[0].apps = {"DroverTestDiscord.exe"};
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  named_process app{L"DroverTestDiscord.exe"};
  auto app_syn = with_source_port(syn(), 50123);
  socket(socket_event(wd::event_socket_connect, app.pid(), 50123));
  divert(app_syn, outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.info.dst.port, listener_port) << "redirected: a target";
  EXPECT_TRUE(session->is_target(app.pid()));
}

// A process the scan found is taken up only while it is still that one:
// a process ID can be reused between the scan and the take-up, and
// another program under it (another creation time) is left alone.
TEST_F(windows_divert, a_scanned_process_is_taken_up_only_if_still_the_same) {
  start_engine();
  named_process app{L"DroverTestDiscord.exe"};
  auto id = platform::identify_process(app.pid());
  ASSERT_TRUE(id);
  ASSERT_NE(id->created, 0u);
  std::string error;
  EXPECT_EQ(session->add_target(app.pid(), id->created + 1, error),
            platform::take_up::left_alone);
  EXPECT_FALSE(session->is_target(app.pid())) << "another creation time";
  EXPECT_EQ(session->add_target(app.pid(), id->created, error),
            platform::take_up::taken);
  EXPECT_TRUE(session->is_target(app.pid())) << "the one the scan saw";
}

// A `block` rule by folder (its path, without regard to case): the
// process's first connection is refused with a reset to the application,
// nothing goes out; a `direct` rule before it would have let it go.
TEST_F(windows_divert, a_blocked_process_is_refused_at_its_first_socket) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  named_process app{L"DroverTestBlocked.exe"};
  std::string error;
  platform::target_selection t;
  t.rules.resize(1);
  auto folder = narrow(app.folder);
  for (auto& c : folder)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  t.rules[0].folders = {folder};
  t.rules[0].action = config::rule_action::block;
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  auto app_syn = with_source_port(syn(), 50124);
  socket(socket_event(wd::event_socket_connect, app.pid(), 50124));
  divert(app_syn, outbound_address());
  auto rst = next_sent();
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0) << "refused at once";
  EXPECT_EQ(rst.info.dst.port, 50124) << "to the application";
  EXPECT_FALSE(session->is_target(app.pid()));
}

// `drover run`'s program is a run root: a program it starts is a target
// through the root's proxy from its first socket, whatever a rule says of
// its name (a block rule here), as the run cgroup keeps it on Linux.
TEST_F(windows_divert, a_drover_run_programs_child_goes_through_its_proxy) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  std::string error;
  platform::target_selection t;
  t.rules.resize(1);
  t.rules[0].apps = {"DroverTestRunChild.exe"};
  t.rules[0].action = config::rule_action::block;
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  auto me = static_cast<uint32_t>(GetCurrentProcessId());
  // This process, put in place as `drover run` puts its own.
  ASSERT_TRUE(session->join_target(me, me, 0, 0, error)) << error;
  named_process child{L"DroverTestRunChild.exe"};
  socket(socket_event(wd::event_socket_connect, child.pid(), 50129));
  divert(with_source_port(syn(), 50129), outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.info.dst.port, listener_port) << "redirected, not refused";
  EXPECT_TRUE(session->is_target(child.pid()));
  session->forget_target(me);
}

// While the proxy cannot be used, a target whose rule's fallback is direct
// has its new connection let out as it is; another target's is refused.
TEST_F(windows_divert, a_rules_direct_fallback_lets_its_connection_out) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  named_process direct_app{L"DroverTestFallback.exe"};
  named_process other_app{L"DroverTestStrict.exe"};
  std::string error;
  platform::target_selection t;
  t.rules.resize(2);
  t.rules[0].apps = {"DroverTestFallback.exe"};
  t.rules[0].fallback = config::rule_fallback::direct;
  t.rules[1].apps = {"DroverTestStrict.exe"};
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  caf::anon_send(fm, atom::update_v,
                 flow_policy::both(new_flow_policy::refuse));
  auto direct_syn = with_source_port(syn(), 50125);
  socket(socket_event(wd::event_socket_connect, direct_app.pid(), 50125));
  auto a = outbound_address();
  divert(direct_syn, a);
  auto out = next_sent();
  EXPECT_EQ(out.bytes, direct_syn) << "out as it is: direct";
  auto strict_syn = with_source_port(syn(), 50126);
  socket(socket_event(wd::event_socket_connect, other_app.pid(), 50126));
  divert(strict_syn, a);
  auto rst = next_sent();
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0) << "refused";
}

// Several proxies: each target's packets carry its rule's proxy, so its
// new connection meets that proxy's policy (the second proxy up, the first
// down here) and its session that proxy.
TEST_F(windows_divert, each_targets_connection_meets_its_rules_proxy) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  named_process home_app{L"DroverTestHome.exe"};
  named_process work_app{L"DroverTestWork.exe"};
  std::string error;
  platform::target_selection t;
  t.rules.resize(2);
  t.rules[0].apps = {"DroverTestHome.exe"};
  t.rules[1].apps = {"DroverTestWork.exe"};
  t.rules[1].proxy = "work";
  t.proxy_names = {"home", "work"};
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  caf::anon_send(fm, atom::update_v, uint32_t{0},
                 flow_policy::both(new_flow_policy::refuse));
  caf::anon_send(fm, atom::update_v, uint32_t{1},
                 flow_policy::both(new_flow_policy::proxy));
  auto a = outbound_address();
  auto work_syn = with_source_port(syn(), 50127);
  socket(socket_event(wd::event_socket_connect, work_app.pid(), 50127));
  divert(work_syn, a);
  auto out = next_sent();
  EXPECT_EQ(out.info.dst.port, listener_port) << "its proxy is up: redirected";
  auto home_syn = with_source_port(syn(), 50128);
  socket(socket_event(wd::event_socket_connect, home_app.pid(), 50128));
  divert(home_syn, a);
  auto rst = next_sent();
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0)
      << "its proxy is down: refused";
}

// The packet thread stops reading (the engine stalled): every program's
// traffic waits in the same driver queue, so after 3 s the handle stops
// diverting and the port fails, for the engine to reopen it.
// Meanwhile the targets' packets pass undiverted, so the block for a killed
// engine applies (against the double of fwpuclnt.dll: the engine's permit
// is gone), until the next session's handle diverts.
TEST_F(windows_divert, a_reader_that_stops_reading_lets_the_handle_go) {
  wfp_double wfp;
  ASSERT_NO_FATAL_FAILURE(open_guard_with(wfp));
  platform::capture_options opts;
  opts.guard = guard;
  opts.listener = {net::nat_shape::loopback, listener_port};
  opts.skip.proxy = *net::parse_ipv4("10.99.0.1");
  auto r = platform::open_capture(opts);
  ASSERT_TRUE(r.session) << r.error;
  EXPECT_EQ(wfp.for_a_program(), 1) << "the engine's permit";
  driver = fake_driver{};
  std::string error;
  ASSERT_EQ(r.session->add_target(target_pid, 0, error),
            platform::take_up::taken);
  auto batch = r.session->port().new_batch();
  std::thread feed{[&] {
    socket(socket_event(wd::event_socket_connect, target_pid, 50200));
  }};
  auto app_syn = with_source_port(syn(), 50200);
  auto a = outbound_address();
  std::thread packet{[&] {
    std::this_thread::sleep_for(100ms);
    driver.deliver(wd::layer_network, app_syn.data(),
                   static_cast<UINT>(app_syn.size()), &a, 1);
  }};
  EXPECT_EQ(r.session->port().receive(*batch),
            platform::packet_port::receive_status::packets);
  feed.join();
  packet.join();
  // Nobody calls receive() again.
  EXPECT_FALSE(driver.is_shut(wd::layer_network));
  EXPECT_TRUE(wait_until([&] { return driver.is_shut(wd::layer_network); }))
      << "the handle is let go after 3 s";
  EXPECT_EQ(r.session->port().receive(*batch),
            platform::packet_port::receive_status::failed);
  EXPECT_NE(r.session->port().last_error().find("stopped for 3 s"),
            std::string::npos)
      << r.session->port().last_error();
  EXPECT_TRUE(wait_until([&] { return wfp.for_a_program() == 0; }))
      << "the permit went with the handle";
  r.session.reset();
  auto next = platform::open_capture(opts);
  ASSERT_TRUE(next.session) << next.error;
  EXPECT_EQ(wfp.for_a_program(), 1) << "back with the next session";
  next.session.reset();
  guard->release();
  guard.reset();
}

// The driver goes away under the handle (stopped or removed): nothing is
// diverted any more, so the permit goes and the captured programs are
// blocked, as after a kill, until a new session diverts (or Stop).
TEST_F(windows_divert, a_driver_lost_under_the_handle_drops_the_permit) {
  wfp_double wfp;
  ASSERT_NO_FATAL_FAILURE(open_guard_with(wfp));
  start_engine();
  EXPECT_EQ(wfp.for_a_program(), 1) << "the engine's permit";
  ASSERT_NE(driver.lose, nullptr);
  ASSERT_TRUE(driver.lose(wd::layer_network));
  // At the failed receive itself: well before the stall watch, which would
  // let the handle go (and drop the permit) only 3 s after the reader
  // stopped reading.
  EXPECT_TRUE(
      test::eventually([&] { return wfp.for_a_program() == 0; }, 2s, 1ms))
      << "the permit went with the driver";
  stop_engine();
  guard->release();
  guard.reset();
}
