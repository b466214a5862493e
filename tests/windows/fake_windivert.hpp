#pragma once

// What the two halves of the WinDivert.dll test double share: the driver's
// delivery (fake_windivert.cpp) and the emulator's link to real packets
// (windivert_emulator_link.cpp, used when DROVER_WINDIVERT_EMULATOR names
// the emulator daemon's port).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actors/platform/windivert_abi.hpp"

namespace drover::test::fake_windivert {

namespace wd = drover::platform::windivert;

struct diverted {
  std::string_view packet; // empty for the SOCKET layer's events
  wd::address addr;
};

/// Diverts each of `items` as the driver would (each to the
/// highest-priority open handle of layer `l` whose filter takes it; a row
/// of them for one handle as one batch); `taken[i]` is 1 when a handle took
/// item i (or its full queue dropped it, as the driver's does), 0 when it
/// passes. Takes the double's lock.
void divert_each(wd::layer l, const std::vector<diverted>& items,
                 std::vector<uint8_t>& taken);

/// Starts the link to the emulator daemon once, when the environment asks
/// for it (DROVER_WINDIVERT_EMULATOR=PORT on 127.0.0.1). False when not
/// emulating.
bool start_emulator_if_asked();

/// Whether packets handles send go to the emulator (else the double keeps
/// them for the tests' DroverFakeTakeSent).
bool emulating();

/// Sends the packets handles sent (or a closed handle's queue re-injected),
/// back to back in `packets` with their addresses, to be injected.
/// `priority`: the sending handle's (for the trace).
void emulator_inject(const std::vector<diverted>& packets, int priority);

/// WINDIVERT_EMULATOR_TRACE=1: each packet's way through the handles, on
/// stderr.
bool tracing();
void trace_packet(const char* what, int priority, std::string_view packet);

/// Every process's socket handles, each asked its local port: port ->
/// process ID (windivert_emulator_tables.cpp).
void read_handle_owners(std::map<uint16_t, uint32_t>& owners,
                        bool afresh = false);
/// The owner of `port` by the processes' socket handles, asked afresh
/// when what is remembered of the handles names none (0: none).
uint32_t handle_owner(std::map<uint16_t, uint32_t>& owners, bool& read,
                      bool& read_afresh, uint16_t port);

/// Makes this process's GetExtendedTcpTable and GetExtendedUdpTable name
/// each socket's process as Windows' do: wine's name none for a socket only
/// wine's server holds (one connecting, one waiting in a receive), which
/// Windows never does. Drover's own reading of the tables then sees what
/// it would see on Windows.
void name_owners_in_socket_tables();

} // namespace drover::test::fake_windivert
