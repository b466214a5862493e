// A test double of WinDivert.dll for the Windows build's tests under wine
// (the driver cannot run there). It exports the documented functions with
// the documented ABI (actors/platform/windivert_abi.hpp), over a scripted
// packet source and sink:
//   DroverFakeDeliver   queues packets (and their addresses) for the newest
//                       handle of a layer, as the driver would divert them
//   DroverFakeTakeSent  what SendEx injected, packet by packet
//   DroverFakeRecvCalls how many receives a layer's handle has started
//                       (a port that re-armed has dealt with what came)
//   DroverFakeSendCalls how many SendEx calls succeeded
//   DroverFakeIsShut    whether a layer's newest handle was shut down
// and through the environment:
//   DROVER_FAKE_WINDIVERT_OPEN_ERROR=N   WinDivertOpen fails with error N
//   DROVER_FAKE_WINDIVERT_VERSION=M.m    the driver version it reports
//
// Overlapped receives are real: each handle is the server end of a
// message-mode named pipe, a receive is a real overlapped ReadFile into
// the caller's packet buffer, and delivering writes the packets to the
// pipe's other end, after filling in the addresses of the receive it
// completes. So the caller's event, GetOverlappedResult, CancelIoEx and
// CloseHandle behave as with the driver's device.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/windivert_abi.hpp"

using namespace drover::platform::windivert;

namespace {

struct fake_handle {
  HANDLE server = INVALID_HANDLE_VALUE; // what the caller holds
  HANDLE client = INVALID_HANDLE_VALUE; // where deliveries are written
  layer l = layer_network;
  int16_t priority = 0;
  uint64_t flags = 0;
  std::string filter;
  uint64_t params[3] = {4096, 2000, 4u << 20};
  // The receive in progress: where its addresses go.
  address* addrs = nullptr;
  unsigned* addrs_bytes = nullptr;
  unsigned addrs_capacity = 0; // in addresses
  // Deliveries that found no receive in progress, in order.
  std::deque<std::vector<address>> queued;
  long recv_calls = 0;
  bool shut = false;
  char scratch[1]; // the SOCKET layer's reads carry no packet bytes
};

struct sent_packet {
  std::vector<uint8_t> bytes;
  address addr;
};

std::mutex mutex;
std::vector<fake_handle*> handles; // open ones, oldest first
std::deque<sent_packet> sent;
long send_calls = 0; // successful SendEx calls
long pipe_serial = 0;

// The process environment (shared by every module, whatever its C runtime).
bool scripted(const char* name, char (&value)[64]) {
  auto n = GetEnvironmentVariableA(name, value, sizeof value);
  return n > 0 && n < sizeof value;
}

fake_handle* find(HANDLE h) {
  for (auto* f : handles)
    if (f->server == h)
      return f;
  return nullptr;
}

void fill(fake_handle& f, const std::vector<address>& addrs) {
  auto n = std::min<size_t>(addrs.size(), f.addrs_capacity);
  std::memcpy(f.addrs, addrs.data(), n * sizeof(address));
  *f.addrs_bytes = static_cast<unsigned>(n * sizeof(address));
  f.addrs = nullptr;
}

// The newest open handle of a layer (the one Drover opened last).
fake_handle* newest(layer l) {
  fake_handle* f = nullptr;
  for (auto* h : handles)
    if (h->l == l)
      f = h;
  return f;
}

uint32_t packet_length(const uint8_t* p) {
  return (p[0] >> 4) == 6 ? 40u + (uint32_t{p[4]} << 8 | p[5])
                          : uint32_t{p[2]} << 8 | p[3];
}

} // namespace

extern "C" {

__declspec(dllexport) HANDLE WinDivertOpen(const char* filter, layer l,
                                           int16_t priority, uint64_t flags) {
  char e[64];
  if (scripted("DROVER_FAKE_WINDIVERT_OPEN_ERROR", e)) {
    SetLastError(static_cast<DWORD>(std::strtoul(e, nullptr, 10)));
    return INVALID_HANDLE_VALUE;
  }
  if (filter == nullptr || l > layer_reflect) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
  }
  auto* f = new fake_handle;
  f->l = l;
  f->priority = priority;
  f->flags = flags;
  f->filter = filter;
  char name[96];
  std::snprintf(name, sizeof name, "\\\\.\\pipe\\drover-fake-windivert-%lu-%ld",
                GetCurrentProcessId(), ++pipe_serial);
  f->server
      = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                         PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                         1, 1 << 20, 1 << 20, 0, nullptr);
  f->client
      = CreateFileA(name, GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr);
  if (f->server == INVALID_HANDLE_VALUE || f->client == INVALID_HANDLE_VALUE) {
    delete f;
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return INVALID_HANDLE_VALUE;
  }
  std::lock_guard<std::mutex> guard{mutex};
  handles.push_back(f);
  return f->server;
}

__declspec(dllexport) BOOL
    WinDivertRecvEx(HANDLE h, void* packets, UINT size, UINT* received,
                    UINT64 flags, address* addrs, UINT* addrs_bytes,
                    LPOVERLAPPED ov) {
  fake_handle* f;
  {
    std::lock_guard<std::mutex> guard{mutex};
    f = find(h);
    if (f == nullptr || flags != 0 || addrs == nullptr || addrs_bytes == nullptr
        || ov == nullptr) {
      SetLastError(ERROR_INVALID_PARAMETER);
      return FALSE;
    }
    if (*addrs_bytes < sizeof(address)
        || *addrs_bytes > batch_max * sizeof(address)) {
      SetLastError(ERROR_INVALID_PARAMETER); // 1..255 addresses, as the driver
      return FALSE;
    }
    if (f->shut) {
      SetLastError(ERROR_NO_DATA);
      return FALSE;
    }
    f->recv_calls++;
    f->addrs = addrs;
    f->addrs_bytes = addrs_bytes;
    f->addrs_capacity = *addrs_bytes / sizeof(address);
    if (!f->queued.empty()) {
      fill(*f, f->queued.front());
      f->queued.pop_front();
    }
  }
  if (received != nullptr)
    *received = 0;
  bool socket_layer = f->l != layer_network && f->l != layer_network_forward;
  void* into = socket_layer ? f->scratch : packets;
  DWORD room = socket_layer ? sizeof f->scratch : size;
  return ReadFile(f->server, into, room, nullptr, ov);
}

__declspec(dllexport) BOOL
    WinDivertSendEx(HANDLE h, const void* packets, UINT size, UINT* sent_bytes,
                    UINT64 flags, const address* addrs, UINT addrs_bytes,
                    LPOVERLAPPED) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = find(h);
  // The driver takes 1..255 addresses per call, and fails the whole call
  // otherwise (sys/windivert.c).
  if (f == nullptr || flags != 0 || (f->flags & flag_recv_only) != 0
      || addrs_bytes < sizeof(address)
      || addrs_bytes > batch_max * sizeof(address)) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  send_calls++;
  auto* p = static_cast<const uint8_t*>(packets);
  UINT at = 0;
  for (UINT i = 0; i < addrs_bytes / sizeof(address) && at + 20 <= size; ++i) {
    auto n = packet_length(p + at);
    if (n == 0 || at + n > size) {
      SetLastError(ERROR_INSUFFICIENT_BUFFER);
      return FALSE;
    }
    sent.push_back({{p + at, p + at + n}, addrs[i]});
    at += n;
  }
  if (sent_bytes != nullptr)
    *sent_bytes = at;
  return TRUE;
}

__declspec(dllexport) BOOL WinDivertShutdown(HANDLE h, shutdown_how) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = find(h);
  if (f == nullptr) {
    SetLastError(ERROR_INVALID_HANDLE);
    return FALSE;
  }
  f->shut = true;
  return TRUE;
}

__declspec(dllexport) BOOL WinDivertClose(HANDLE h) {
  std::lock_guard<std::mutex> guard{mutex};
  for (auto it = handles.begin(); it != handles.end(); ++it) {
    if ((*it)->server != h)
      continue;
    CloseHandle((*it)->client);
    CloseHandle((*it)->server);
    delete *it;
    handles.erase(it);
    return TRUE;
  }
  SetLastError(ERROR_INVALID_HANDLE);
  return FALSE;
}

__declspec(dllexport) BOOL WinDivertSetParam(HANDLE h, param p, UINT64 value) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = find(h);
  if (f == nullptr || p > param_queue_size) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  f->params[p] = value;
  return TRUE;
}

__declspec(dllexport) BOOL WinDivertGetParam(HANDLE, param p, UINT64* value) {
  char v[64];
  unsigned major = 2, minor = 2;
  if (scripted("DROVER_FAKE_WINDIVERT_VERSION", v))
    std::sscanf(v, "%u.%u", &major, &minor);
  *value = p == param_version_major ? major : minor;
  return TRUE;
}

// -- for the tests ------------------------------------------------------------

// Handles opened and not yet closed.
__declspec(dllexport) int DroverFakeOpenHandles() {
  std::lock_guard<std::mutex> guard{mutex};
  return static_cast<int>(handles.size());
}

// Whether the newest handle of layer `l` was shut down.
__declspec(dllexport) BOOL DroverFakeIsShut(layer l) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = newest(l);
  return f != nullptr && f->shut;
}

// SendEx calls that succeeded (each carries 1..255 packets).
__declspec(dllexport) long DroverFakeSendCalls() {
  std::lock_guard<std::mutex> guard{mutex};
  return send_calls;
}

// Diverts `count` packets (back to back in `packets`; none for the SOCKET
// layer) with their addresses to the newest open handle of layer `l`.
__declspec(dllexport) BOOL
    DroverFakeDeliver(layer l, const void* packets, UINT size,
                      const address* addrs, UINT count) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = newest(l);
  if (f == nullptr)
    return FALSE;
  std::vector<address> a(addrs, addrs + count);
  if (f->addrs != nullptr)
    fill(*f, a);
  else
    f->queued.push_back(std::move(a));
  char marker = 0;
  bool socket_layer = l != layer_network && l != layer_network_forward;
  DWORD written = 0;
  return WriteFile(f->client, socket_layer ? &marker : packets,
                   socket_layer ? 1 : size, &written, nullptr);
}

// The oldest packet SendEx sent that the test has not taken: its length
// (0 when none), copied to `out` with its address.
__declspec(dllexport) UINT
    DroverFakeTakeSent(void* out, UINT size, address* addr) {
  std::lock_guard<std::mutex> guard{mutex};
  if (sent.empty())
    return 0;
  auto& s = sent.front();
  auto n = static_cast<UINT>(s.bytes.size());
  if (n > size)
    return 0;
  std::memcpy(out, s.bytes.data(), n);
  *addr = s.addr;
  sent.pop_front();
  return n;
}

// Receives started on the newest handle of layer `l`.
__declspec(dllexport) long DroverFakeRecvCalls(layer l) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = newest(l);
  return f == nullptr ? -1 : f->recv_calls;
}

// The newest handle of layer `l`: its filter, priority, flags and queue
// parameters.
__declspec(dllexport) BOOL
    DroverFakeHandleInfo(layer l, char* filter, UINT filter_size,
                         int16_t* priority, UINT64* flags, UINT64* params) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = newest(l);
  if (f == nullptr)
    return FALSE;
  std::snprintf(filter, filter_size, "%s", f->filter.c_str());
  *priority = f->priority;
  *flags = f->flags;
  std::memcpy(params, f->params, sizeof f->params);
  return TRUE;
}

} // extern "C"
