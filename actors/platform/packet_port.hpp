#pragma once

// The platform packet port: where captured packets come from and where
// verdicts and injected packets go. One implementation per OS (NFQUEUE on
// Linux, WinDivert on Windows). Packets travel in reusable batch buffers so
// the packet path allocates nothing and shares system calls per batch.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace drover {

/// One captured packet inside a batch buffer.
struct captured_packet {
  uint32_t id = 0;     // the port's handle for the verdict
  uint32_t offset = 0; // into packet_batch_buffer::data
  uint32_t length = 0;
  bool checksum_partial = false; // the L4 checksum holds only the pseudo-header
  bool gso = false; // a GSO super-packet: the kernel rebuilds its checksums
  /// Sent by a target (Linux: its socket carries the target mark). Else
  /// it was queued for what it may answer: the listener's reply, or an
  /// error (a reset, a port unreachable) the application's own stack sent
  /// about a flow Drover rewrote.
  bool from_target = true;
  /// The sending process, when the port knows it without asking the OS
  /// (Windows: the SOCKET layer's event for its port); 0 otherwise (Linux:
  /// the status window asks the socket tables instead).
  uint32_t pid = 0;
  /// Sent by a process a `block` rule matches (Windows; on Linux the
  /// kernel refuses those itself): refused, never relayed.
  bool blocked = false;
  /// Sent by a process whose rule's fallback is direct (Windows; on Linux
  /// the kernel leaves such sockets alone): while the proxy cannot be
  /// used, its new flows go direct whatever the policy says.
  bool fallback_direct = false;
  /// A target's rule's proxy (its place in the config; 0: the first).
  /// Windows: from the rules; Linux: the low bits of its socket's mark.
  uint8_t proxy = 0;
  /// The port's own data for this packet, handed back with its verdict
  /// (Windows: the WINDIVERT_ADDRESS it was captured with). Lives in the
  /// batch buffer.
  const void* meta = nullptr;
};

/// Leaves new elements uninitialised: a batch's pages are touched (and
/// count in the engine's memory) only once packets fill them. Batches are
/// sized for the largest packets (64 KiB GSO) while most are small.
template<class T>
struct uninitialized_allocator : std::allocator<T> {
  template<class U>
  struct rebind {
    using other = uninitialized_allocator<U>;
  };
  uninitialized_allocator() = default;
  template<class U>
  uninitialized_allocator(const uninitialized_allocator<U>&) noexcept {}
  template<class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template<class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using byte_buffer = std::vector<uint8_t, uninitialized_allocator<uint8_t>>;

/// A reusable batch: fixed capacity, allocated once by the port.
struct packet_batch_buffer {
  packet_batch_buffer(size_t bytes, size_t max, size_t meta_bytes = 0)
      : data(bytes), meta(meta_bytes * max) {
    packets.reserve(max);
  }

  byte_buffer data;
  std::vector<captured_packet> packets;
  std::vector<uint8_t> meta; // per packet, for the port (captured_packet::meta)

  void clear() { packets.clear(); }
  uint8_t* bytes(const captured_packet& p) { return data.data() + p.offset; }
};

namespace platform {

enum class verdict_kind : uint8_t {
  accept,          // on its way unchanged
  accept_modified, // on its way as rewritten (`data`)
  drop,
  /// A target's packet let out direct on purpose (`when_not_proxying =
  /// "direct"`): on Linux it carries the pass mark, which the kernel fence
  /// lets through.
  pass,
};

struct verdict {
  uint32_t id;
  verdict_kind kind;
  const uint8_t* data = nullptr; // accept_modified: the new packet
  uint32_t length = 0;
  const void* meta = nullptr; // captured_packet::meta
};

/// A port's counters since it opened. counters() may be called from any
/// thread (the flow-manager asks, the receive thread counts).
struct port_counters {
  uint64_t received = 0;
  uint64_t batches = 0;
  uint64_t overruns = 0;   // the kernel could not hand packets over in time
  uint64_t queue_full = 0; // dropped by the kernel: the queue was full
};

class packet_port {
public:
  virtual ~packet_port() = default;

  enum class receive_status { packets, stopped, failed };

  /// Blocks until packets arrive (then fills `batch` with as many as are
  /// ready, up to its capacity), stop() is called, or the handle fails.
  virtual receive_status receive(packet_batch_buffer& batch) = 0;

  /// A batch buffer shaped for this port (the flow-manager hands it back
  /// after each batch, so a few are reused for the engine's lifetime).
  virtual std::shared_ptr<packet_batch_buffer> new_batch() const = 0;

  /// Sends the verdicts for a batch, sharing system calls.
  virtual std::error_code send_verdicts(const verdict* v, size_t n) = 0;

  /// Wakes a blocked receive(); callable from any thread.
  virtual void stop() = 0;

  virtual port_counters counters() const = 0;

  /// Why receive() failed, for the user.
  virtual std::string last_error() const = 0;
};

/// Sends fabricated packets towards local applications (UDP replies).
/// Thread-safe.
class packet_injector {
public:
  virtual ~packet_injector() = default;
  virtual std::error_code inject(const uint8_t* packet, size_t length) = 0;
};

} // namespace platform
} // namespace drover
