// Which process holds each socket, for the WinDivert emulator under wine:
// from the system's handle table (each socket handle of each process,
// duplicated and asked its local port), and patched into drover.exe's own
// reading of the socket tables so they name owners as Windows' do.

#include <winsock2.h>
// After winsock2.h (a separate block keeps clang-format from sorting them).
#include <iphlpapi.h>
#include <windows.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "tests/windows/fake_windivert.hpp"

namespace drover::test::fake_windivert {

namespace {

// NtQuerySystemInformation's SystemHandleInformation (class 16), which
// winternl.h does not declare.
struct handle_entry {
  USHORT pid;
  USHORT creator;
  UCHAR type;
  UCHAR flags;
  USHORT value;
  PVOID object;
  ACCESS_MASK access;
};
struct handle_table {
  ULONG count;
  handle_entry entries[1];
};
using query_fn = LONG(WINAPI*)(ULONG, PVOID, ULONG, PULONG);
constexpr ULONG system_handle_information = 16;

using table_fn
    = DWORD(WINAPI*)(PVOID, PDWORD, BOOL, ULONG, TCP_TABLE_CLASS, ULONG);
using udp_table_fn
    = DWORD(WINAPI*)(PVOID, PDWORD, BOOL, ULONG, UDP_TABLE_CLASS, ULONG);
table_fn real_tcp_table = nullptr;
udp_table_fn real_udp_table = nullptr;

bool needs_owner(const MIB_TCPROW_OWNER_PID& r) {
  return r.dwState != MIB_TCP_STATE_TIME_WAIT; // nobody's on Windows too
}
bool needs_owner(const MIB_TCP6ROW_OWNER_PID& r) {
  return r.dwState != MIB_TCP_STATE_TIME_WAIT;
}
bool needs_owner(const MIB_UDPROW_OWNER_PID&) {
  return true;
}

template<class Row>
void fill_owners(Row* rows, DWORD count) {
  std::map<uint16_t, uint32_t> owners;
  bool read = false, read_afresh = false;
  for (DWORD i = 0; i < count; ++i) {
    if (rows[i].dwOwningPid != 0 || !needs_owner(rows[i]))
      continue;
    auto port = ntohs(static_cast<u_short>(rows[i].dwLocalPort));
    if (auto pid = handle_owner(owners, read, read_afresh, port))
      rows[i].dwOwningPid = pid;
  }
}

DWORD WINAPI tcp_table_naming_owners(PVOID table, PDWORD size, BOOL order,
                                     ULONG family, TCP_TABLE_CLASS kind,
                                     ULONG reserved) {
  auto r = real_tcp_table(table, size, order, family, kind, reserved);
  if (r == NO_ERROR
      && (kind == TCP_TABLE_OWNER_PID_ALL
          || kind == TCP_TABLE_OWNER_PID_CONNECTIONS)) {
    if (family == AF_INET) {
      auto* t = static_cast<MIB_TCPTABLE_OWNER_PID*>(table);
      fill_owners(t->table, t->dwNumEntries);
    } else if (family == AF_INET6) {
      auto* t = static_cast<MIB_TCP6TABLE_OWNER_PID*>(table);
      fill_owners(t->table, t->dwNumEntries);
    }
  }
  return r;
}

DWORD WINAPI udp_table_naming_owners(PVOID table, PDWORD size, BOOL order,
                                     ULONG family, UDP_TABLE_CLASS kind,
                                     ULONG reserved) {
  auto r = real_udp_table(table, size, order, family, kind, reserved);
  if (r == NO_ERROR && family == AF_INET && kind == UDP_TABLE_OWNER_PID) {
    auto* t = static_cast<MIB_UDPTABLE_OWNER_PID*>(table);
    fill_owners(t->table, t->dwNumEntries);
  }
  return r;
}

// Points the main program's import of `name` from iphlpapi.dll at `to`.
void patch_import(const char* name, void* to) {
  auto* base = reinterpret_cast<uint8_t*>(GetModuleHandleA(nullptr));
  auto* dos = reinterpret_cast<IMAGE_DOS_HEADER*>(base);
  auto* nt = reinterpret_cast<IMAGE_NT_HEADERS*>(base + dos->e_lfanew);
  auto& dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
  if (dir.VirtualAddress == 0)
    return;
  auto* d
      = reinterpret_cast<IMAGE_IMPORT_DESCRIPTOR*>(base + dir.VirtualAddress);
  for (; d->Name != 0; ++d) {
    if (_stricmp(reinterpret_cast<char*>(base + d->Name), "iphlpapi.dll") != 0)
      continue;
    auto* names = reinterpret_cast<IMAGE_THUNK_DATA*>(
        base
        + (d->OriginalFirstThunk != 0 ? d->OriginalFirstThunk : d->FirstThunk));
    auto* slots = reinterpret_cast<IMAGE_THUNK_DATA*>(base + d->FirstThunk);
    for (; names->u1.AddressOfData != 0; ++names, ++slots) {
      if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal))
        continue;
      auto* by_name = reinterpret_cast<IMAGE_IMPORT_BY_NAME*>(
          base + names->u1.AddressOfData);
      if (std::strcmp(reinterpret_cast<char*>(by_name->Name), name) != 0)
        continue;
      DWORD old = 0;
      VirtualProtect(&slots->u1.Function, sizeof slots->u1.Function,
                     PAGE_READWRITE, &old);
      slots->u1.Function = reinterpret_cast<ULONG_PTR>(to);
      VirtualProtect(&slots->u1.Function, sizeof slots->u1.Function, old, &old);
    }
  }
}

// A process whose socket handles may be asked (PROCESS_DUP_HANDLE), or
// INVALID_HANDLE_VALUE: not this one (drover.exe knows its own sockets)
// nor wine's own services under C:\windows, whose busy sockets are left
// alone (a wine server was seen to crash while they were asked).
HANDLE applications_process(USHORT pid) {
  if (pid == GetCurrentProcessId())
    return INVALID_HANDLE_VALUE;
  HANDLE process = OpenProcess(
      PROCESS_DUP_HANDLE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (process == nullptr)
    return INVALID_HANDLE_VALUE;
  char image[MAX_PATH];
  DWORD size = sizeof image;
  if (!QueryFullProcessImageNameA(process, 0, image, &size)
      || _strnicmp(image, "C:\\windows\\", 11) == 0) {
    CloseHandle(process);
    return INVALID_HANDLE_VALUE;
  }
  return process;
}

} // namespace

uint32_t handle_owner(std::map<uint16_t, uint32_t>& owners, bool& read,
                      bool& read_afresh, uint16_t port) {
  if (!read) {
    read_handle_owners(owners);
    read = true;
  }
  auto it = owners.find(port);
  // At most twice a second: a port nobody's for good (a socket only wine's
  // server holds while it closes) would have every read done afresh.
  static std::atomic<ULONGLONG> last_afresh{0};
  auto tick = GetTickCount64();
  if (it == owners.end() && !read_afresh && tick - last_afresh.load() >= 500) {
    last_afresh = tick;
    read_handle_owners(owners, true);
    read_afresh = true;
    it = owners.find(port);
  }
  return it == owners.end() ? 0 : it->second;
}

void read_handle_owners(std::map<uint16_t, uint32_t>& owners, bool afresh) {
  static auto query
      = reinterpret_cast<query_fn>(reinterpret_cast<void*>(GetProcAddress(
          GetModuleHandleA("ntdll.dll"), "NtQuerySystemInformation")));
  // One reader at a time (the link's thread and drover.exe's table reader
  // both ask), and each object asked once: what an object is does not
  // change, so only objects not seen before are duplicated and asked
  // (a bound socket's port; a file that is no socket), which keeps the
  // calls into wine's server few.
  static std::mutex mutex;
  // (object, process, handle) -> its port (0: no socket); the three
  // together, as a freed object's address may be reused. Even the three
  // may come back for another object (wine reuses process IDs, handle
  // values and addresses: a new process's first socket may get a closed
  // one's), so a caller whose port is named by none asks `afresh`: the
  // sockets again.
  using handle_key = std::tuple<PVOID, USHORT, USHORT>;
  static std::map<handle_key, uint16_t> ports;
  std::lock_guard<std::mutex> guard{mutex};
  std::vector<char> buf(1 << 22);
  ULONG length = 0;
  if (query == nullptr
      || query(system_handle_information, buf.data(),
               static_cast<ULONG>(buf.size()), &length)
             != 0)
    return;
  auto* table = reinterpret_cast<handle_table*>(buf.data());
  // Only handles of a socket's object type are looked at (others, some of
  // them wine's own, are left alone): that type is read off a socket of
  // this process, made once for the purpose.
  static SOCKET probe = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  static int socket_type = -1;
  for (ULONG i = 0; socket_type < 0 && i < table->count; ++i)
    if (table->entries[i].pid == GetCurrentProcessId()
        && table->entries[i].value == static_cast<USHORT>(probe))
      socket_type = table->entries[i].type;
  if (socket_type < 0)
    return;
  std::map<handle_key, uint16_t> still;
  std::map<USHORT, HANDLE> processes;
  for (ULONG i = 0; i < table->count; ++i) {
    auto& e = table->entries[i];
    if (e.type != socket_type)
      continue;
    handle_key key{e.object, e.pid, e.value};
    // Afresh: sockets are asked again, never what was no socket (a
    // pipe's handle, the engine's own control pipe among them, is left
    // alone).
    if (auto known = ports.find(key);
        known != ports.end() && (!afresh || known->second == 0)) {
      still.insert(*known);
      if (known->second != 0)
        owners.emplace(known->second, e.pid);
      continue;
    }
    auto& process = processes[e.pid];
    if (process == nullptr)
      process = applications_process(e.pid);
    HANDLE h = nullptr;
    if (process == INVALID_HANDLE_VALUE
        || !DuplicateHandle(
            process, reinterpret_cast<HANDLE>(ULONG_PTR{e.value}),
            GetCurrentProcess(), &h, 0, FALSE, DUPLICATE_SAME_ACCESS))
      continue;
    sockaddr_storage local{};
    int local_size = sizeof local;
    uint16_t port = 0;
    if (getsockname(reinterpret_cast<SOCKET>(h),
                    reinterpret_cast<sockaddr*>(&local), &local_size)
            == 0
        && (local.ss_family == AF_INET || local.ss_family == AF_INET6))
      // The port sits at the same place in both families' addresses.
      port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    if (port != 0) {
      still[key] = port;
      owners.emplace(port, e.pid);
    } else if (WSAGetLastError() == WSAENOTSOCK) {
      still[key] = 0;
    } // else a socket not bound yet: asked again next time
    CloseHandle(h);
  }
  ports = std::move(still);
  for (auto& [pid, process] : processes)
    if (process != nullptr && process != INVALID_HANDLE_VALUE)
      CloseHandle(process);
}

void name_owners_in_socket_tables() {
  auto* iphlpapi = GetModuleHandleA("iphlpapi.dll");
  if (iphlpapi == nullptr)
    return;
  real_tcp_table = reinterpret_cast<table_fn>(
      reinterpret_cast<void*>(GetProcAddress(iphlpapi, "GetExtendedTcpTable")));
  real_udp_table = reinterpret_cast<udp_table_fn>(
      reinterpret_cast<void*>(GetProcAddress(iphlpapi, "GetExtendedUdpTable")));
  if (real_tcp_table == nullptr || real_udp_table == nullptr)
    return;
  patch_import("GetExtendedTcpTable",
               reinterpret_cast<void*>(tcp_table_naming_owners));
  patch_import("GetExtendedUdpTable",
               reinterpret_cast<void*>(udp_table_naming_owners));
}

} // namespace drover::test::fake_windivert
