#include "actors/platform/windows/windivert_port.hpp"

#include <winsock2.h>
// After winsock2.h (a separate block keeps clang-format from sorting them).
#include <iphlpapi.h>
#include <windows.h>

#include <algorithm>
#include <cstring>

#include "actors/platform/stall_watch.hpp"
#include "actors/platform/windivert_errors.hpp"
#include "actors/platform/windows/interface_memory.hpp"
#include "actors/platform/windows/socket_tables.hpp"
#include "net/bytes.hpp"

namespace drover::platform::windivert {

namespace {

constexpr size_t receive_bytes = 1 << 20; // one RecvEx: up to 255 packets
constexpr size_t address_size = sizeof(address);

// One handle's overlapped receive, always outstanding while the port runs.
struct receiver {
  handle h = nullptr;
  OVERLAPPED ov{};
  bool pending = false;
  std::vector<uint8_t> bytes;
  address addrs[batch_max];
  unsigned addr_bytes = 0;
  unsigned received = 0;
};

std::error_code win_error(DWORD code) {
  return {static_cast<int>(code), std::system_category()};
}

} // namespace

struct divert_port::state final : packet_sink {
  std::shared_ptr<dll> d;
  port_options opts;
  HANDLE stop_event = nullptr;
  receiver network, socket;

  // Owned by the receiving thread.
  packet_sorter sorter;
  std::vector<uint8_t> pass_bytes; // re-injected in one SendEx per wake
  std::vector<address> pass_addrs;
  size_t pass_used = 0;
  size_t pass_count = 0;
  uint64_t send_failed = 0;
  // The engine's batch being filled on this wake (deliver()).
  packet_batch_buffer* batch = nullptr;
  size_t batch_used = 0;

  // The verdicts' and injections' send buffers (one caller each; inject is
  // serialised by its mutex).
  std::vector<uint8_t> verdict_bytes;
  std::vector<address> verdict_addrs;
  std::mutex inject_mutex;
  std::vector<uint8_t> inject_bytes;
  interface_memory interfaces; // where a fabricated reply is injected

  mutable std::mutex counters_mutex;
  port_counters counters;
  std::atomic<uint64_t> verdicts_failed{0}; // from the verdicts' thread
  port_stats stats; // the sorter's and send_failed, after each wake
  std::string error;

  state(const port_options& o, std::shared_ptr<target_set> targets)
      : opts(o), sorter(o.listener, o.hold_time, o.held_slots,
                        std::move(targets), o.broadcasts),
        pass_bytes(receive_bytes), pass_addrs(batch_max + o.held_slots),
        verdict_bytes(receive_bytes * 2),
        verdict_addrs(batch_max * 2 + o.held_slots), inject_bytes(mtu_max) {}

  // The packet thread that stops reading (the engine stalled) holds up
  // every program's outbound traffic, which waits in the same driver
  // queue: after 3 s outside receive(), the handle stops diverting and the
  // port fails, so the engine reopens it (docs/architecture.md).
  stall_watch watch{std::chrono::seconds{3}, std::chrono::milliseconds{500},
                    [this] {
                      d->shutdown(network.h, shutdown_recv);
                      lost();
                    }};

  // Starts an overlapped receive unless one is outstanding. False when the
  // handle failed (then `error` says why, or it was shut down).
  bool arm(receiver& r, bool& stopped) {
    if (r.pending)
      return true;
    ResetEvent(r.ov.hEvent);
    r.addr_bytes = sizeof r.addrs;
    r.received = 0;
    if (d->recv_ex(r.h, r.bytes.empty() ? nullptr : r.bytes.data(),
                   static_cast<unsigned>(r.bytes.size()), &r.received, 0,
                   r.addrs, &r.addr_bytes, &r.ov)) {
      SetEvent(r.ov.hEvent); // done at once: handled on this wake
      r.pending = true;
      return true;
    }
    auto code = GetLastError();
    if (code == ERROR_IO_PENDING) {
      r.pending = true;
      return true;
    }
    return failed(code, stopped);
  }

  bool failed(DWORD code, bool& stopped) {
    if (classify_recv_error(code) == recv_outcome::stopped) {
      stopped = true;
      return false;
    }
    error = "the WinDivert handle failed (Windows error " + std::to_string(code)
            + "): the driver was stopped or removed";
    lost();
    return false;
  }

  // The handles divert nothing from now on (once is enough: on_lost must
  // bear being called again).
  void lost() {
    if (opts.on_lost)
      opts.on_lost();
  }

  // The overlapped receive finished: how many addresses it filled.
  bool complete(receiver& r, size_t& count, bool& stopped) {
    r.pending = false;
    DWORD n = 0;
    if (!GetOverlappedResult(r.h, &r.ov, &n, FALSE))
      return failed(GetLastError(), stopped);
    // A synchronous completion filled r.received itself; GetOverlappedResult
    // then reports the same count.
    r.received = std::max<unsigned>(r.received, n);
    count = r.addr_bytes / address_size;
    return true;
  }

  bool has_room(uint32_t length) const override {
    return batch->packets.size() < batch->packets.capacity()
           && batch_used + length <= batch->data.size();
  }

  void pass(const uint8_t* data, uint32_t length, const address& a) override {
    if (pass_used + length > pass_bytes.size()
        || pass_count == pass_addrs.size())
      flush_passed();
    std::memcpy(pass_bytes.data() + pass_used, data, length);
    pass_addrs[pass_count++] = a;
    pass_used += length;
  }

  void flush_passed() {
    // Other programs' packets: one that cannot be sent is lost (counted).
    send_failed += send_in_chunks(*d, network.h, pass_bytes.data(), pass_used,
                                  pass_addrs.data(), pass_count);
    pass_count = 0;
    pass_used = 0;
  }

  // The sorter sized the batch's room (has_room()); a whole receive always
  // fits (new_batch()).
  void deliver(const uint8_t* data, uint32_t length, const address& a,
               const captured_packet& facts) override {
    interface_memory::address from;
    if (a.loopback == 0
        && interface_memory::address_of(data, length, true, from))
      interfaces.remember(from, {a.network.if_idx, a.network.sub_if_idx});
    auto index = batch->packets.size();
    std::memcpy(batch->data.data() + batch_used, data, length);
    std::memcpy(batch->meta.data() + index * address_size, &a, address_size);
    captured_packet p = facts;
    p.id = static_cast<uint32_t>(index);
    p.offset = static_cast<uint32_t>(batch_used);
    p.length = length;
    p.meta = batch->meta.data() + index * address_size;
    batch->packets.push_back(p);
    batch_used += length;
  }

  void on_packets(size_t count, net::flow_time now) {
    size_t at = 0;
    for (size_t i = 0; i < count && at < network.received; ++i) {
      const uint8_t* p = network.bytes.data() + at;
      uint32_t length = packet_length(p, network.received - at);
      if (length == 0)
        break; // not a packet WinDivert would hand over: stop walking
      at += length;
      sorter.sort(p, length, network.addrs[i], now, *this);
    }
  }
};

divert_port::divert_port(std::unique_ptr<state> s) : s_(std::move(s)) {}

divert_port::~divert_port() {
  auto& s = *s_;
  for (auto* r : {&s.network, &s.socket}) {
    if (r->h == nullptr)
      continue;
    if (r->pending) {
      s.d->shutdown(r->h, shutdown_both);
      CancelIoEx(r->h, &r->ov);
      DWORD n = 0;
      GetOverlappedResult(r->h, &r->ov, &n, TRUE);
    }
    s.d->close(r->h);
  }
  s.watch.stop();
  for (HANDLE e : {s.stop_event, s.network.ov.hEvent, s.socket.ov.hEvent})
    if (e != nullptr)
      CloseHandle(e);
}

std::unique_ptr<divert_port>
divert_port::open(std::shared_ptr<dll> d, const port_options& opts,
                  std::shared_ptr<target_set> targets, capture_failure& failure,
                  std::string& error) {
  auto s = std::make_unique<state>(opts, std::move(targets));
  s->d = std::move(d);
  s->stop_event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  s->network.ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  s->socket.ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  s->network.bytes.resize(receive_bytes);
  std::unique_ptr<divert_port> port{new divert_port(std::move(s))};
  auto& st = *port->s_;
  auto fail = [&](uint32_t code) {
    if (code != 0) {
      auto e = explain_open_error(code);
      failure = e.failure;
      error = e.text;
    } else {
      failure = capture_failure::unavailable;
    }
    return nullptr;
  };
  uint32_t code = 0;
  // The SOCKET handle first: its events must not miss a socket that the
  // NETWORK handle's first packets come from.
  st.socket.h
      = open_checked(*st.d, opts.socket_filter.c_str(), layer_socket,
                     opts.priority, flag_sniff | flag_recv_only, code, error);
  if (st.socket.h == nullptr)
    return fail(code);
  st.network.h = open_checked(*st.d, opts.network_filter.c_str(), layer_network,
                              opts.priority, 0, code, error);
  if (st.network.h == nullptr)
    return fail(code);
  // A burst (a call joining, a game's update) must not overflow the queue
  // while the engine is busy: everything at its maximum.
  // The queue's time at WinDivert's default (2 s), not its 16 s maximum:
  // should the engine stall, the machine's other traffic (which waits in
  // the same queue) is held up for 2 s at most.
  st.d->set_param(st.network.h, param_queue_length, queue_length_max);
  st.d->set_param(st.network.h, param_queue_time, queue_time_ms);
  st.d->set_param(st.network.h, param_queue_size, queue_size_max);
  {
    std::vector<socket_row> rows;
    std::vector<char> buf;
    read_socket_tables(rows, buf);
    st.sorter.note(rows);
  }
  st.watch.start();
  return port;
}

std::shared_ptr<packet_batch_buffer> divert_port::new_batch() const {
  // Room for a whole receive plus every held packet, so that nothing a
  // wake produced has to wait for the next batch.
  return std::make_shared<packet_batch_buffer>(
      receive_bytes + s_->opts.held_slots * net::held_packets::slot_bytes,
      batch_max + s_->opts.held_slots, address_size);
}

packet_port::receive_status divert_port::receive(packet_batch_buffer& batch) {
  auto& s = *s_;
  s.watch.entered();
  struct left {
    state& s;
    ~left() { s.watch.left(); }
  } leaving{s};
  if (s.watch.stalled()) {
    s.error = "Drover's packet reader stopped for 3 s: the WinDivert handle "
              "was let go so the computer's other traffic could flow";
    return receive_status::failed;
  }
  batch.clear();
  s.batch = &batch;
  s.batch_used = 0;
  if (batch.meta.size() < batch.packets.capacity() * address_size
      || batch.data.size() < receive_bytes) {
    s.error = "internal error: packet batch buffer too small";
    return receive_status::failed;
  }
  for (;;) {
    bool stopped = false;
    if (WaitForSingleObject(s.stop_event, 0) == WAIT_OBJECT_0)
      return receive_status::stopped;
    if (!s.arm(s.network, stopped) || !s.arm(s.socket, stopped))
      return stopped ? receive_status::stopped : receive_status::failed;
    DWORD timeout = INFINITE;
    if (auto by = s.sorter.wake_by()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *by - net::flow_clock::now());
      timeout = static_cast<DWORD>(std::max<int64_t>(left.count(), 0));
    }
    HANDLE events[4] = {s.stop_event, s.socket.ov.hEvent, s.network.ov.hEvent,
                        s.sorter.tables().ready()};
    auto woke = WaitForMultipleObjects(4, events, FALSE, timeout);
    if (woke == WAIT_OBJECT_0)
      return receive_status::stopped;
    if (woke == WAIT_FAILED) {
      s.error = "waiting for packets failed (Windows error "
                + std::to_string(GetLastError()) + ")";
      return receive_status::failed;
    }
    auto now = net::flow_clock::now();
    size_t count = 0;
    // Socket events first: they may name the owner of a packet in this
    // very wake.
    if (WaitForSingleObject(s.socket.ov.hEvent, 0) == WAIT_OBJECT_0) {
      if (!s.complete(s.socket, count, stopped))
        return stopped ? receive_status::stopped : receive_status::failed;
      s.sorter.on_socket_events(s.socket.addrs, count, now);
    }
    bool packets = false;
    if (WaitForSingleObject(s.network.ov.hEvent, 0) == WAIT_OBJECT_0) {
      if (!s.complete(s.network, count, stopped))
        return stopped ? receive_status::stopped : receive_status::failed;
      s.on_packets(count, now);
      packets = count > 0;
    }
    // The tables the sorter asked for are back (packet_sorter::after_wake()).
    bool tables_back
        = WaitForSingleObject(s.sorter.tables().ready(), 0) == WAIT_OBJECT_0;
    s.sorter.after_wake(now, tables_back, s);
    s.flush_passed();
    {
      std::lock_guard<std::mutex> guard{s.counters_mutex};
      if (packets)
        s.counters.batches++;
      s.counters.received += batch.packets.size();
      s.stats = s.sorter.stats();
      s.stats.send_failed = s.send_failed;
    }
    if (!batch.packets.empty())
      return receive_status::packets;
  }
}

std::error_code divert_port::send_verdicts(const verdict* v, size_t n) {
  auto& s = *s_;
  size_t used = 0, count = 0;
  auto flush = [&]() -> std::error_code {
    auto failed = send_in_chunks(*s.d, s.network.h, s.verdict_bytes.data(),
                                 used, s.verdict_addrs.data(), count);
    used = count = 0;
    if (failed == 0)
      return {};
    s.verdicts_failed += failed;
    return win_error(GetLastError());
  };
  std::error_code first;
  for (size_t i = 0; i < n; ++i) {
    if (v[i].kind == verdict_kind::drop || v[i].meta == nullptr)
      continue;
    if (used + v[i].length > s.verdict_bytes.size()
        || count == s.verdict_addrs.size())
      if (auto ec = flush(); ec && !first)
        first = ec;
    address a;
    std::memcpy(&a, v[i].meta, address_size);
    if (v[i].kind == verdict_kind::accept_modified) {
      // Rewritten: the driver computes the checksums (the captured ones may
      // have been left to the network card, so nothing here is known good).
      a.ip_checksum = 0;
      a.tcp_checksum = 0;
      a.udp_checksum = 0;
      // Either NAT shape's packets leave outbound here (the loopback shape
      // on Windows: both directions; see net/nat.hpp).
      a.outbound = 1;
    }
    std::memcpy(s.verdict_bytes.data() + used, v[i].data, v[i].length);
    s.verdict_addrs[count++] = a;
    used += v[i].length;
  }
  if (auto ec = flush(); ec && !first)
    first = ec;
  return first;
}

std::error_code divert_port::inject(const uint8_t* packet, size_t length) {
  auto& s = *s_;
  if (length > s.inject_bytes.size())
    return win_error(ERROR_INSUFFICIENT_BUFFER);
  // A reply fabricated for a local application (a UDP datagram from the
  // relay, a refusal's reset): injected inbound on the interface the
  // application's packets left by, as if it had arrived there. An address
  // not seen yet: sent outbound to the application's own address, which
  // the stack delivers locally (TorWall's return path). Checksums are left
  // to the driver.
  address a{};
  a.layer = layer_network;
  a.outbound = 1;
  interface_memory::interface_index at;
  interface_memory::address to;
  if (interface_memory::address_of(packet, length, false, to)
      && s.interfaces.find(to, at)) {
    a.outbound = 0;
    a.network.if_idx = at.if_idx;
    a.network.sub_if_idx = at.sub_if_idx;
  }
  std::lock_guard<std::mutex> guard{s.inject_mutex};
  std::memcpy(s.inject_bytes.data(), packet, length);
  unsigned sent = 0;
  if (!s.d->send_ex(s.network.h, s.inject_bytes.data(),
                    static_cast<unsigned>(length), &sent, 0, &a, address_size,
                    nullptr))
    return win_error(GetLastError());
  return {};
}

void divert_port::stop() {
  SetEvent(s_->stop_event);
}

port_counters divert_port::counters() const {
  std::lock_guard<std::mutex> guard{s_->counters_mutex};
  return s_->counters;
}

port_stats divert_port::stats() const {
  std::lock_guard<std::mutex> guard{s_->counters_mutex};
  auto out = s_->stats;
  out.send_failed += s_->verdicts_failed.load();
  return out;
}

std::string divert_port::last_error() const {
  return s_->error;
}

void divert_port::take_owners_from(const divert_port& previous) {
  s_->sorter.take_owners_from(previous.s_->sorter);
}

void divert_port::fence() {
  s_->sorter.fence();
}

void divert_port::resume() {
  auto& s = *s_;
  ResetEvent(s.stop_event);
  // Windows cancels the I/O a thread started when the thread ends: the
  // receives the previous reader's thread had outstanding are aborted,
  // and are started again on the next receive(). One that completed
  // first keeps its packets for it.
  for (auto* r : {&s.network, &s.socket}) {
    DWORD n = 0;
    if (r->pending && !GetOverlappedResult(r->h, &r->ov, &n, FALSE)
        && GetLastError() == ERROR_OPERATION_ABORTED)
      r->pending = false;
  }
}

} // namespace drover::platform::windivert
