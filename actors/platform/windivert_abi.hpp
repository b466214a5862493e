#pragma once

// WinDivert 2.2's ABI, declared by the project itself (no WinDivert header
// is shipped or needed): the address struct, the enums and flags, and the
// exported functions' types for GetProcAddress. WinDivert's own open call
// checks only the DLL's layout, never the caller's, so every offset is
// pinned here with static_asserts (basil00/WinDivert v2.2.2
// include/windivert.h).
//
// Fixed-width types only and no Windows header, so the same checks compile
// (and the bit layout is unit-tested) natively as well as under mingw.
// All bitfields are 32-bit, where the GCC and MSVC layouts agree.

#include <cstddef>
#include <cstdint>

namespace drover::platform::windivert {

enum layer : uint32_t {
  layer_network = 0,
  layer_network_forward = 1,
  layer_flow = 2,
  layer_socket = 3,
  layer_reflect = 4,
};

enum event : uint8_t {
  event_network_packet = 0,
  event_flow_established = 1,
  event_flow_deleted = 2,
  event_socket_bind = 3,
  event_socket_connect = 4,
  event_socket_listen = 5,
  event_socket_accept = 6,
  event_socket_close = 7,
  event_reflect_open = 8,
  event_reflect_close = 9,
};

// Open flags. SNIFF with DROP, and RECV_ONLY with SEND_ONLY, are invalid.
constexpr uint64_t flag_sniff = 0x1;
constexpr uint64_t flag_drop = 0x2;
constexpr uint64_t flag_recv_only = 0x4;
constexpr uint64_t flag_send_only = 0x8;
constexpr uint64_t flag_no_install = 0x10;
constexpr uint64_t flag_fragments = 0x20;

enum param : uint32_t {
  param_queue_length = 0, // packets: 32..16384, default 4096
  param_queue_time = 1,   // ms: 100..16000, default 2000
  param_queue_size = 2,   // bytes: 65535..32 MiB, default 4 MiB
  param_version_major = 3,
  param_version_minor = 4,
};

enum shutdown_how : uint32_t {
  shutdown_recv = 1,
  shutdown_send = 2,
  shutdown_both = 3,
};

constexpr int16_t priority_max = 30000;
constexpr unsigned batch_max = 255;
constexpr unsigned mtu_max = 40 + 0xFFFF;

// The queue parameters' largest values (what TorWall, ProxyBridge and
// shadow set, and so does Drover).
constexpr uint64_t queue_length_max = 16384;
constexpr uint64_t queue_time_max_ms = 16000;
constexpr uint64_t queue_time_ms = 2000; // the driver's default
constexpr uint64_t queue_size_max = 32u << 20;

struct network_data {
  uint32_t if_idx;
  uint32_t sub_if_idx;
};

// FLOW and SOCKET layers. Addresses and ports in host byte order; an IPv4
// address is local_addr[0] with local_addr[1] = 0xFFFF.
struct socket_data {
  uint64_t endpoint_id;
  uint64_t parent_endpoint_id;
  uint32_t process_id;
  uint32_t local_addr[4];
  uint32_t remote_addr[4];
  uint16_t local_port;
  uint16_t remote_port;
  uint8_t protocol;
};

struct reflect_data {
  int64_t timestamp;
  uint32_t process_id;
  uint32_t layer; // enum layer
  uint64_t flags;
  int16_t priority;
};

struct address {
  int64_t timestamp; // QueryPerformanceCounter ticks
  uint32_t layer : 8;
  uint32_t event : 8;
  uint32_t sniffed : 1;
  uint32_t outbound : 1;
  uint32_t loopback : 1;
  uint32_t impostor : 1;
  uint32_t ipv6 : 1;
  uint32_t ip_checksum : 1; // 1: valid; 0: the driver computes it on send
  uint32_t tcp_checksum : 1;
  uint32_t udp_checksum : 1;
  uint32_t reserved1 : 8;
  uint32_t reserved2;
  union {
    network_data network;
    socket_data flow; // FLOW and SOCKET share the layout
    reflect_data reflect;
    uint8_t reserved3[64];
  };
};

static_assert(sizeof(address) == 80, "WINDIVERT_ADDRESS is 80 bytes");
static_assert(alignof(address) == 8, "WINDIVERT_ADDRESS is 8-aligned");
static_assert(offsetof(address, reserved2) == 12);
static_assert(offsetof(address, network) == 16);
static_assert(offsetof(address, flow) + offsetof(socket_data, process_id)
              == 32);
static_assert(offsetof(address, flow) + offsetof(socket_data, local_addr)
              == 36);
static_assert(offsetof(address, flow) + offsetof(socket_data, remote_addr)
              == 52);
static_assert(offsetof(address, flow) + offsetof(socket_data, local_port)
              == 68);
static_assert(offsetof(address, flow) + offsetof(socket_data, remote_port)
              == 70);
static_assert(offsetof(address, flow) + offsetof(socket_data, protocol) == 72);
static_assert(offsetof(address, reflect) + offsetof(reflect_data, process_id)
              == 24);
static_assert(offsetof(address, reflect) + offsetof(reflect_data, layer) == 28);
static_assert(offsetof(address, reflect) + offsetof(reflect_data, flags) == 32);
static_assert(offsetof(address, reflect) + offsetof(reflect_data, priority)
              == 40);

// The exports (undecorated names; one calling convention on x64). `handle`
// is a Windows HANDLE; INVALID_HANDLE_VALUE, and NULL on two out-of-memory
// paths, mean failure (then GetLastError).
using handle = void*;
using open_fn
    = handle (*)(const char* filter, layer, int16_t priority, uint64_t flags);
using recv_ex_fn = int (*)(handle, void* packets, unsigned size,
                           unsigned* received, uint64_t flags, address* addrs,
                           unsigned* addrs_bytes, void* overlapped);
using send_ex_fn = int (*)(handle, const void* packets, unsigned size,
                           unsigned* sent, uint64_t flags, const address* addrs,
                           unsigned addrs_bytes, void* overlapped);
using shutdown_fn = int (*)(handle, shutdown_how);
using close_fn = int (*)(handle);
using set_param_fn = int (*)(handle, param, uint64_t);
using get_param_fn = int (*)(handle, param, uint64_t*);

} // namespace drover::platform::windivert
