// A test double of WinDivert.dll for the Windows build's tests under wine
// (the driver cannot run there). It exports the documented functions with
// the documented ABI (actors/platform/windivert_abi.hpp), over a scripted
// packet source and sink:
//   DroverFakeDeliver   diverts packets (and their addresses) as the driver
//                       would: each to the highest-priority open handle of
//                       the layer whose filter takes it (the newest among
//                       equals); FALSE, saying which, when no filter takes
//                       one (the driver would let it pass)
//   DroverFakeTakeSent  what SendEx injected and no lower-priority handle
//                       diverted again, packet by packet
//   DroverFakeTakePassed what went on undiverted: packets a closed handle
//                       still held that no lower-priority handle took (the
//                       driver re-injects a closed handle's queue)
//   DroverFakeRecvCalls how many receives a layer's handle has started
//                       (a port that re-armed has dealt with what came)
//   DroverFakeSendCalls how many SendEx calls succeeded
//   DroverFakeIsShut    whether a layer's newest handle was shut down
//   DroverFakeLose      the driver goes away under a layer's newest handle
// WinDivertOpen compiles the filter for its layer with the filter checker
// (tests/support/windivert_filter: WinDivert 2.2's documented language and
// limits) and fails with 87, as the driver's DLL does, for what it refuses.
// and through the environment:
//   DROVER_FAKE_WINDIVERT_OPEN_ERROR=N   WinDivertOpen fails with error N
//   DROVER_FAKE_WINDIVERT_VERSION=M.m    the driver version it reports
//   DROVER_WINDIVERT_EMULATOR=PORT       real packets instead of scripts:
//       the emulator daemon on 127.0.0.1:PORT queues the machine's
//       outbound packets and injects what handles send
//       (windivert_emulator_link.cpp)
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
#include <optional>
#include <string>
#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/windivert_abi.hpp"
#include "tests/support/windivert_filter.hpp"
#include "tests/windows/fake_windivert.hpp"

using namespace drover::platform::windivert;
namespace fw = drover::test::fake_windivert;

namespace {

struct fake_handle {
  HANDLE server = INVALID_HANDLE_VALUE; // what the caller holds
  HANDLE client = INVALID_HANDLE_VALUE; // where deliveries are written
  layer l = layer_network;
  int16_t priority = 0;
  uint64_t flags = 0;
  std::string filter;
  std::optional<drover::test::windivert_filter::filter> compiled;
  uint64_t params[3] = {4096, 2000, 4u << 20};
  // The receive in progress: where its addresses go, and its OVERLAPPED
  // (a receive cancelled, as Windows does when the thread that started it
  // ends, is in progress no more).
  address* addrs = nullptr;
  const OVERLAPPED* ov = nullptr;
  unsigned* addrs_bytes = nullptr;
  unsigned addrs_capacity = 0; // in addresses
  // Deliveries that found no receive in progress, in order (their bytes
  // are in the pipe too; kept here for re-injection at close).
  struct batch {
    std::vector<address> addrs;
    std::string bytes;
  };
  std::deque<batch> queued;
  // The delivery last filled into a receive in progress, until the next
  // receive says whether that one took its bytes: one cancelled first (its
  // thread ended) left them in the pipe, and they come first again. The
  // driver hands a packet and its address in one completion; this keeps
  // the double's two halves paired as the driver's are.
  std::optional<batch> in_flight;
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
std::deque<sent_packet> passed; // re-injected at a close, diverted no more
long send_calls = 0;            // successful SendEx calls
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

// Whether `h`'s filter takes a packet (or a socket event) with address `a`.
bool takes(const fake_handle& h, std::string_view packet, const address& a) {
  namespace wf = drover::test::windivert_filter;
  if (h.l == layer_network || h.l == layer_network_forward) {
    wf::packet_context c;
    c.packet = packet;
    c.outbound = a.outbound;
    c.loopback = a.loopback;
    c.impostor = a.impostor;
    c.if_idx = a.network.if_idx;
    c.sub_if_idx = a.network.sub_if_idx;
    return h.compiled->matches(c);
  }
  wf::socket_context c;
  c.event = static_cast<uint8_t>(a.event);
  c.process_id = a.flow.process_id;
  c.endpoint_id = a.flow.endpoint_id;
  c.parent_endpoint_id = a.flow.parent_endpoint_id;
  c.outbound = a.outbound;
  c.loopback = a.loopback;
  c.ipv6 = a.ipv6;
  c.protocol = a.flow.protocol;
  // Host-order words, most significant first (windivert.h).
  auto bytes_of = [](const uint32_t(&w)[4]) {
    std::array<uint8_t, 16> out{};
    for (int i = 0; i < 4; ++i)
      for (int b = 0; b < 4; ++b)
        out[static_cast<size_t>(4 * i + b)]
            = static_cast<uint8_t>(w[3 - i] >> (24 - 8 * b));
    return out;
  };
  c.local_addr = bytes_of(a.flow.local_addr);
  c.remote_addr = bytes_of(a.flow.remote_addr);
  c.local_port = a.flow.local_port;
  c.remote_port = a.flow.remote_port;
  return h.compiled->matches(c);
}

// The handle the driver gives a packet (or a socket event): the highest
// priority among the layer's open handles whose filter takes it; among
// equal priorities (an undefined order for the driver) the newest.
// `below`: only handles of a lower priority than this one (a packet a
// handle re-injects continues only to those).
fake_handle* diverted_to(layer l, std::string_view packet, const address& a,
                         const fake_handle* below = nullptr) {
  fake_handle* best = nullptr;
  for (auto* h : handles) {
    if (h->l != l || h->shut || !h->compiled || h == below
        || (below != nullptr && h->priority >= below->priority))
      continue;
    if (takes(*h, packet, a)
        && (best == nullptr || h->priority >= best->priority))
      best = h;
  }
  return best;
}

// The oldest packet of `packets` (its length, 0 when none or when it does
// not fit in `size`), copied to `out` with its address.
UINT take_from(std::deque<sent_packet>& packets, void* out, UINT size,
               address* addr) {
  if (packets.empty())
    return 0;
  auto& s = packets.front();
  auto n = static_cast<UINT>(s.bytes.size());
  if (n > size)
    return 0;
  std::memcpy(out, s.bytes.data(), n);
  *addr = s.addr;
  packets.pop_front();
  return n;
}

// Bytes a handle holds that no receive has taken yet (the driver's queue).
size_t queued_bytes(const fake_handle& f) {
  size_t n = 0;
  for (auto& b : f.queued)
    n += b.bytes.size();
  return n;
}

// Hands `addrs` (and the packets back to back in `bytes`) to `to`: to its
// receive in progress, else queued for the next.
bool hand_to(fake_handle& to, std::vector<address> addrs, std::string bytes) {
  bool socket_layer = to.l != layer_network && to.l != layer_network_forward;
  constexpr ULONG_PTR status_pending = 0x103;
  if (to.addrs != nullptr && to.ov != nullptr
      && to.ov->Internal != status_pending)
    to.addrs = nullptr; // cancelled: what comes now waits for the next
  if (to.addrs != nullptr) {
    fill(to, addrs);
    to.in_flight = fake_handle::batch{std::move(addrs), bytes};
  } else {
    to.queued.push_back({std::move(addrs), bytes});
  }
  char marker = 0;
  DWORD written = 0;
  return WriteFile(to.client, socket_layer ? &marker : bytes.data(),
                   socket_layer ? 1 : static_cast<DWORD>(bytes.size()),
                   &written, nullptr);
}

// Packets (or events) for one handle in a row, handed over as one batch.
struct batcher {
  fake_handle* to = nullptr;
  std::vector<address> addrs;
  std::string bytes;

  bool add(fake_handle* h, std::string_view packet, const address& a) {
    bool ok = true;
    if (h != to || addrs.size() == batch_max)
      ok = flush();
    to = h;
    addrs.push_back(a);
    bytes.append(packet);
    return ok;
  }

  bool flush() {
    if (to == nullptr)
      return true;
    bool ok = hand_to(*to, std::move(addrs), bytes);
    to = nullptr;
    addrs.clear();
    bytes.clear();
    return ok;
  }
};

// What a handle holds at most (a message-mode pipe of 1 MiB carries it, and
// a full pipe would block the deliverer): the driver's queue is bounded
// too, and drops what does not fit.
constexpr size_t queue_bytes_max = 768 << 10;

} // namespace

namespace drover::test::fake_windivert {

void divert_each(wd::layer l, const std::vector<diverted>& items,
                 std::vector<uint8_t>& taken) {
  std::lock_guard<std::mutex> guard{mutex};
  taken.assign(items.size(), 0);
  batcher b;
  for (size_t i = 0; i < items.size(); ++i) {
    auto* to = diverted_to(l, items[i].packet, items[i].addr);
    if (to == nullptr)
      continue;
    taken[i] = 1;
    if (tracing() && !items[i].packet.empty())
      trace_packet("diverted to", to->priority, items[i].packet);
    // A sniffing handle gets a copy and the event goes on: every
    // lower-priority sniffing handle whose filter takes it gets one too
    // (the SOCKET layer's handles all sniff).
    if ((to->flags & flag_sniff) != 0)
      for (auto* h : handles)
        if (h != to && h->l == l && !h->shut && h->compiled
            && (h->flags & flag_sniff) != 0 && h->priority <= to->priority
            && takes(*h, items[i].packet, items[i].addr)) {
          b.flush();
          hand_to(*h, {items[i].addr}, std::string{items[i].packet});
        }
    if (queued_bytes(*to) + b.bytes.size() + items[i].packet.size()
        > queue_bytes_max)
      continue; // dropped, as by the driver's full queue
    b.add(to, items[i].packet, items[i].addr);
  }
  b.flush();
}

} // namespace drover::test::fake_windivert

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
  // The layers are numbered alike (windivert.h's WINDIVERT_LAYER).
  namespace wf = drover::test::windivert_filter;
  std::string why;
  size_t at = 0;
  auto compiled
      = wf::filter::compile(filter, static_cast<wf::layer>(l), why, at);
  if (!compiled) {
    std::fprintf(stderr, "fake WinDivert: filter refused (%s at %zu): %s\n",
                 why.c_str(), at, filter);
    SetLastError(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
  }
  auto* f = new fake_handle;
  f->compiled = std::move(compiled);
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
  fw::start_emulator_if_asked();
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
    // The receive before this one, on the same OVERLAPPED (as Drover's
    // port reuses its own): if it ended without its bytes (cancelled), its
    // delivery is still the pipe's first. (Another OVERLAPPED: the caller
    // waited for the last; it may be gone.)
    constexpr ULONG_PTR status_success = 0;
    if (f->in_flight && f->ov == ov && ov->Internal != status_success)
      f->queued.push_front(std::move(*f->in_flight));
    f->in_flight.reset();
    // Shut down: what was queued is still received, then 232.
    if (f->shut && f->queued.empty()) {
      SetLastError(ERROR_NO_DATA);
      return FALSE;
    }
    f->recv_calls++;
    f->addrs = addrs;
    f->ov = ov;
    // Pending from now, as the driver's DeviceIoControl has it: a delivery
    // before the ReadFile below fills this receive's addresses.
    ov->Internal = 0x103; // STATUS_PENDING
    f->addrs_bytes = addrs_bytes;
    f->addrs_capacity = *addrs_bytes / sizeof(address);
    if (!f->queued.empty()) {
      fill(*f, f->queued.front().addrs);
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
  std::unique_lock<std::mutex> guard{mutex};
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
  std::vector<fw::diverted> out; // to the emulator, outside the lock
  UINT at = 0;
  for (UINT i = 0; i < addrs_bytes / sizeof(address) && at + 20 <= size; ++i) {
    auto n = packet_length(p + at);
    if (n == 0 || at + n > size) {
      SetLastError(ERROR_INSUFFICIENT_BUFFER);
      return FALSE;
    }
    // What a handle injects continues to lower-priority handles only (a
    // handle never receives its own): diverted again by one whose filter
    // takes it, else out.
    std::string_view packet{reinterpret_cast<const char*>(p + at), n};
    if (auto* next = diverted_to(f->l, packet, addrs[i], f))
      hand_to(*next, {addrs[i]}, std::string{packet});
    else if (fw::emulating())
      out.push_back({packet, addrs[i]});
    else
      sent.push_back({{p + at, p + at + n}, addrs[i]});
    at += n;
  }
  int priority = f->priority;
  guard.unlock();
  if (!out.empty())
    fw::emulator_inject(out, priority);
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
  std::unique_lock<std::mutex> guard{mutex};
  // To the emulator, outside the lock (`out_bytes` holds their packets).
  std::vector<fw::diverted> out;
  std::vector<std::string> out_bytes;
  for (auto it = handles.begin(); it != handles.end(); ++it) {
    if ((*it)->server != h)
      continue;
    // The driver re-injects what the handle still held: each packet goes
    // on to a lower-priority handle whose filter takes it, or undiverted.
    auto* f = *it;
    bool network = f->l == layer_network || f->l == layer_network_forward;
    for (auto& b : f->queued) {
      size_t at = 0;
      for (auto& a : b.addrs) {
        std::string_view packet;
        if (network) {
          auto n = at + 20 <= b.bytes.size() ? packet_length(
                       reinterpret_cast<const uint8_t*>(b.bytes.data()) + at)
                                             : 0;
          if (n == 0 || at + n > b.bytes.size())
            break;
          packet = std::string_view{b.bytes}.substr(at, n);
          at += n;
        }
        if (auto* next = diverted_to(f->l, packet, a, f))
          hand_to(*next, {a}, std::string{packet});
        else if (fw::emulating() && network) {
          out_bytes.emplace_back(packet);
          out.push_back({{}, a});
        } else
          passed.push_back({{packet.begin(), packet.end()}, a});
      }
    }
    int priority = f->priority;
    if (fw::emulating() && network)
      std::fprintf(stderr,
                   "fake WinDivert: a handle of priority %d closed; of its "
                   "queue %zu packets went on undiverted\n",
                   f->priority, out.size());
    CloseHandle((*it)->client);
    CloseHandle((*it)->server);
    delete *it;
    handles.erase(it);
    guard.unlock();
    for (size_t i = 0; i < out.size(); ++i)
      out[i].packet = out_bytes[i];
    if (!out.empty())
      fw::emulator_inject(out, priority);
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

// The driver goes away under the newest handle of layer `l` (stopped or
// removed): its receives fail from now on (the pipe's writer closes:
// ERROR_BROKEN_PIPE, an error other than a shutdown's).
__declspec(dllexport) BOOL DroverFakeLose(layer l) {
  std::lock_guard<std::mutex> guard{mutex};
  auto* f = newest(l);
  if (f == nullptr || f->client == INVALID_HANDLE_VALUE)
    return FALSE;
  CloseHandle(f->client);
  f->client = INVALID_HANDLE_VALUE;
  return TRUE;
}

// SendEx calls that succeeded (each carries 1..255 packets).
__declspec(dllexport) long DroverFakeSendCalls() {
  std::lock_guard<std::mutex> guard{mutex};
  return send_calls;
}

// Diverts `count` packets (back to back in `packets`; none for the SOCKET
// layer) with their addresses: each to the handle the driver would give
// it. Packets for the same handle in a row go as one batch.
__declspec(dllexport) BOOL
    DroverFakeDeliver(layer l, const void* packets, UINT size,
                      const address* addrs, UINT count) {
  std::lock_guard<std::mutex> guard{mutex};
  bool socket_layer = l != layer_network && l != layer_network_forward;
  auto* bytes = static_cast<const uint8_t*>(packets);
  size_t offset = 0;
  batcher batch;
  for (UINT i = 0; i < count; ++i) {
    std::string_view packet;
    if (!socket_layer) {
      if (offset + 20 > size)
        return FALSE;
      auto length = packet_length(bytes + offset);
      if (length == 0 || offset + length > size)
        return FALSE;
      packet = {reinterpret_cast<const char*>(bytes + offset), length};
      offset += length;
    }
    auto* to = diverted_to(l, packet, addrs[i]);
    if (to == nullptr) {
      std::fprintf(stderr,
                   "fake WinDivert: no open handle's filter takes packet %u "
                   "of %u (layer %d): the driver would let it pass\n",
                   i + 1, count, static_cast<int>(l));
      batch.flush();
      return FALSE;
    }
    if (!batch.add(to, packet, addrs[i]))
      return FALSE;
  }
  return batch.flush();
}

// The oldest packet SendEx sent that the test has not taken: its length
// (0 when none), copied to `out` with its address.
__declspec(dllexport) UINT
    DroverFakeTakeSent(void* out, UINT size, address* addr) {
  std::lock_guard<std::mutex> guard{mutex};
  return take_from(sent, out, size, addr);
}

// The oldest packet that went on undiverted (see WinDivertClose), the same
// way.
__declspec(dllexport) UINT
    DroverFakeTakePassed(void* out, UINT size, address* addr) {
  std::lock_guard<std::mutex> guard{mutex};
  return take_from(passed, out, size, addr);
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
