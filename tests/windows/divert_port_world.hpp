#pragma once

// The Windows packet path's test world, under wine: the real open_capture
// (LoadLibrary of WinDivert.dll from the test's folder, both handles, the
// queue parameters), the real divert-reader and flow-manager actors,
// against the test double of WinDivert.dll (tests/windows/
// fake_windivert.cpp), which diverts the packets and socket events a test
// scripts and records what Drover sends back. Shared by
// divert_port_test.cpp and divert_port_sessions_test.cpp.

#include <cctype>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/divert_reader.hpp"
#include "actors/flow_manager.hpp"
#include "actors/platform/capture.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/windivert_abi.hpp"
#include "messages/atoms.hpp"
#include "net/attribution.hpp"
#include "net/bytes.hpp"
#include "net/packet.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/ipv6_segment.hpp"
#include "tests/support/pcap.hpp"
#include "tests/windows/windivert_addresses.hpp"

namespace drover::test::windows_divert_world {

using namespace std::chrono_literals;
namespace wd = drover::platform::windivert;
using test::outbound_address;
using test::socket_event;

inline constexpr uint16_t listener_port = 15001;
inline constexpr uint32_t target_pid = 4242;
inline constexpr uint32_t other_pid = 777;

// The double's test exports, looked up in the module the engine loaded.
struct fake_driver {
  using deliver_fn
      = BOOL (*)(wd::layer, const void*, UINT, const wd::address*, UINT);
  using take_fn = UINT (*)(void*, UINT, wd::address*);
  using calls_fn = long (*)(wd::layer);
  using info_fn = BOOL (*)(wd::layer, char*, UINT, int16_t*, UINT64*, UINT64*);
  using count_fn = int (*)();
  using sends_fn = long (*)();
  using shut_fn = BOOL (*)(wd::layer);
  using lose_fn = BOOL (*)(wd::layer);

  deliver_fn deliver = nullptr;
  take_fn take = nullptr;
  calls_fn recv_calls = nullptr;
  info_fn info = nullptr;
  count_fn open_handles = nullptr;
  sends_fn send_calls = nullptr;
  shut_fn is_shut = nullptr;
  lose_fn lose = nullptr;

  fake_driver() {
    auto m = GetModuleHandleW(L"WinDivert.dll");
    if (m == nullptr)
      return;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
          reinterpret_cast<void*>(GetProcAddress(m, name)));
    };
    get(deliver, "DroverFakeDeliver");
    get(take, "DroverFakeTakeSent");
    get(recv_calls, "DroverFakeRecvCalls");
    get(info, "DroverFakeHandleInfo");
    get(open_handles, "DroverFakeOpenHandles");
    get(send_calls, "DroverFakeSendCalls");
    get(is_shut, "DroverFakeIsShut");
    get(lose, "DroverFakeLose");
  }
  bool ok() const { return deliver && take && recv_calls && info; }
};

// The double of fwpuclnt.dll (fake_fwpuclnt.cpp) with a store of its own,
// for a guard whose block for a killed engine the test looks at.
struct wfp_double {
  std::wstring store;
  HMODULE library = nullptr;
  int (*decide)(int, const wchar_t*, int) = nullptr;

  wfp_double() {
    wchar_t exe[MAX_PATH];
    std::wstring folder{exe, GetModuleFileNameW(nullptr, exe, MAX_PATH)};
    folder = folder.substr(0, folder.find_last_of(L"\\/"));
    store = folder + L"\\wfp-store-" + std::to_wstring(GetCurrentProcessId())
            + L".txt";
    DeleteFileW(store.c_str());
    SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", store.c_str());
    library = LoadLibraryW((folder + L"\\fake_fwpuclnt.dll").c_str());
    if (library != nullptr)
      decide = reinterpret_cast<int (*)(int, const wchar_t*, int)>(
          reinterpret_cast<void*>(GetProcAddress(library, "fake_wfp_decide")));
  }
  ~wfp_double() {
    DeleteFileW(store.c_str());
    SetEnvironmentVariableW(L"DROVER_FAKE_WFP_STORE", nullptr);
  }
  wfp_double(const wfp_double&) = delete;
  wfp_double& operator=(const wfp_double&) = delete;

  // What the filters decide for any program's first connection: 1 the
  // engine's permit, 0 nothing (no program is blocked in these tests).
  int for_a_program() const {
    return decide(0, L"C:\\windows\\system32\\notepad.exe", 0);
  }
};

struct sent_packet {
  std::vector<uint8_t> bytes;
  wd::address addr{};
  net::packet_info info;
};

// Bounded: what the engine does happens on its own threads, and the test
// double has no event for it.
inline bool wait_until(const std::function<bool()>& done) {
  return test::eventually(done, 10s, 1ms);
}

inline std::vector<uint8_t> with_source_port(std::vector<uint8_t> p,
                                             uint16_t port) {
  net::packet_info info;
  net::parse(p.data(), p.size(), info);
  net::store16(p.data() + info.l4_offset, port);
  return p;
}

class windows_divert : public ::testing::Test {
protected:
  void SetUp() override {
    SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", nullptr);
    add_message_types(cfg);
    // The flow-manager's UDP associations are brokers, as in the engine.
    cfg.load<caf::io::middleman>();
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  void TearDown() override {
    stop_engine();
    sys.reset();
  }

  // The guard, with its block for a killed engine against the double of
  // fwpuclnt.dll (start_engine() then uses it).
  void open_guard_with(const wfp_double& wfp) {
    ASSERT_NE(wfp.decide, nullptr);
    platform::guard_options go;
    go.wfp_library = wfp.library;
    guard = platform::open_guard(go).guard;
    ASSERT_TRUE(guard);
  }

  void start_engine(std::chrono::milliseconds owner_wait = 10s) {
    if (!guard)
      guard = platform::open_guard({}).guard;
    ASSERT_TRUE(guard);
    platform::capture_options opts;
    opts.guard = guard;
    opts.listener = {net::nat_shape::loopback, listener_port};
    opts.skip.proxy = *net::parse_ipv4("10.99.0.1");
    opts.owner_wait = owner_wait;
    auto r = platform::open_capture(opts);
    ASSERT_TRUE(r.session) << r.error;
    session = std::move(r.session);
    driver = fake_driver{}; // the module is loaded now
    ASSERT_TRUE(driver.ok()) << "the test double's exports are missing";
    flow_manager_config fc;
    fc.listener = opts.listener;
    fc.table.max_flows = 64;
    fm = sys->spawn(flow_manager, session.get(), fc);
    reader = sys->spawn(divert_reader, &session->port(), fm);
    set_reader(fm, reader);
    ASSERT_TRUE(
        wait_until([&] { return driver.recv_calls(wd::layer_network) >= 1; }));
  }

  void stop_engine() {
    if (!session)
      return;
    caf::scoped_actor self{*sys};
    for (auto a : {caf::actor_cast<caf::actor>(reader),
                   caf::actor_cast<caf::actor>(fm)}) {
      self->monitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
      self->receive([](const caf::down_msg&) {});
    }
    reader = nullptr;
    fm = nullptr;
    session.reset();
  }

  // Diverts one packet; returns once the port has taken it and is waiting
  // for the next (its receive was started again).
  void divert(const std::vector<uint8_t>& p, const wd::address& a) {
    auto before = driver.recv_calls(wd::layer_network);
    ASSERT_TRUE(driver.deliver(wd::layer_network, p.data(),
                               static_cast<UINT>(p.size()), &a, 1));
    ASSERT_TRUE(wait_until(
        [&] { return driver.recv_calls(wd::layer_network) > before; }));
  }

  void socket(const wd::address& a) {
    auto before = driver.recv_calls(wd::layer_socket);
    ASSERT_TRUE(driver.deliver(wd::layer_socket, nullptr, 0, &a, 1));
    ASSERT_TRUE(wait_until(
        [&] { return driver.recv_calls(wd::layer_socket) > before; }));
  }

  std::optional<sent_packet> take() {
    sent_packet s;
    s.bytes.resize(70000);
    auto n = driver.take(s.bytes.data(), static_cast<UINT>(s.bytes.size()),
                         &s.addr);
    if (n == 0)
      return std::nullopt;
    s.bytes.resize(n);
    EXPECT_EQ(net::parse(s.bytes.data(), n, s.info), net::parse_error::none);
    return s;
  }

  // The flow-manager's flows now.
  std::vector<flow_descriptor> flows_now() {
    caf::scoped_actor self{*sys};
    std::vector<flow_descriptor> flows;
    self->request(fm, std::chrono::seconds{5}, atom::get_v, atom::flows_v)
        .receive([&](std::vector<flow_descriptor>& f) { flows = f; },
                 [&](const caf::error& e) { ADD_FAILURE() << to_string(e); });
    return flows;
  }

  // What the port decided, as the session logs it at its end.
  bool summary_says(const std::string& what) const {
    return session->summary().find(what) != std::string::npos;
  }

  sent_packet next_sent() {
    std::optional<sent_packet> s;
    EXPECT_TRUE(wait_until([&] { return (s = take()).has_value(); }))
        << "nothing was sent";
    return s.value_or(sent_packet{});
  }

  static std::vector<uint8_t> syn() {
    return test::fixtures("fixtures-complete.pcap")[0];
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<platform::capture_session> session; // lent to the parts
  std::shared_ptr<platform::capture_guard> guard;     // kept over restarts
  flow_manager_actor fm;
  divert_reader_actor reader;
  fake_driver driver;
};

inline net::packet_info parsed(const std::vector<uint8_t>& p) {
  net::packet_info info;
  net::parse(p.data(), p.size(), info);
  return info;
}

} // namespace drover::test::windows_divert_world
