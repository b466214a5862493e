#include "actors/platform/windows/packet_sorter.hpp"

#include <cstring>

#include "actors/platform/process.hpp"
#include "net/bytes.hpp"
#include "net/packet.hpp"

namespace drover::platform::windivert {

packet_sorter::packet_sorter(net::listener_address listener,
                             std::chrono::milliseconds hold_time,
                             size_t held_slots,
                             std::shared_ptr<target_set> targets,
                             std::shared_ptr<const lan_broadcasts> broadcasts)
    : listener_(listener), hold_time_(hold_time), targets_(std::move(targets)),
      held_(held_slots, sizeof(address)), broadcasts_(std::move(broadcasts)) {
  view_.watch(targets_.get());
  lan_.watch(broadcasts_.get());
}

bool packet_sorter::to_lan_broadcast(const uint8_t* data, uint32_t length) {
  constexpr uint32_t ipv4_header = 20;
  if (length < ipv4_header || (data[0] >> 4) != 4 || data[9] != net::proto_udp)
    return false;
  return lan_.contains(net::load32(data + 16)); // the destination
}

void packet_sorter::note(const std::vector<socket_row>& rows) {
  note_owners(rows, owners_);
}

void packet_sorter::on_socket_events(const address* events, size_t count,
                                     net::flow_time now) {
  for (size_t i = 0; i < count; ++i)
    if (note_socket_event(events[i], owners_, now))
      consider(events[i].flow.process_id);
}

net::classification packet_sorter::classify(const uint8_t* data,
                                            uint32_t length, bool loopback,
                                            net::flow_time now) {
  return net::classify(data, length, loopback, listener_, owners_, now,
                       [this](uint32_t pid) { return is_target(pid); });
}

void packet_sorter::sort(const uint8_t* data, uint32_t length,
                         const address& meta, net::flow_time now,
                         packet_sink& out) {
  auto c = classify(data, length, meta.loopback != 0, now);
  if (c.what != net::disposition::hold) {
    act(c, data, length, meta, out);
    return;
  }
  if (held_.hold(c.from.protocol, c.from.port, data, length, &meta,
                 now + hold_time_)) {
    live_.held++;
    return;
  }
  // No room to wait (a burst of new sockets): it may be a target's, so it
  // does not go out; a TCP sender sends it again, by when its owner is
  // known (its event, or the tables asked now).
  live_.hold_overflow++;
  tables_.request();
}

void packet_sorter::act(const net::classification& c, const uint8_t* data,
                        uint32_t length, const address& meta,
                        packet_sink& out) {
  switch (c.what) {
    case net::disposition::capture: {
      // A target's LAN discovery on a network joined since the filter was
      // made (which leaves out the broadcasts known then): the LAN's, not
      // the proxy's, as every other program's.
      if (meta.loopback == 0 && to_lan_broadcast(data, length)) {
        live_.lan_broadcasts++;
        out.pass(data, length, meta);
        return;
      }
      // `owner` is 0 on the listener's return path (loopback): the engine's
      // own reply, nobody's to show.
      captured_packet facts;
      facts.pid = c.owner;
      if (named(c.owner)) {
        facts.blocked = view_.blocked(c.owner);
        facts.fallback_direct = view_.direct_when_down(c.owner);
        facts.proxy = view_.proxy(c.owner);
      }
      if (c.former_target)
        live_.former_targets++;
      if (meta.loopback == 0) // a target's socket: captured from now on
        owners_.captured(c.from.protocol, c.from.port, c.from.remote);
      out.deliver(data, length, meta, facts);
      return;
    }
    case net::disposition::drop:
      live_.orphaned++; // net::nobodys() says why: never out
      return;
    case net::disposition::pass:
      if (fenced_ && meta.loopback == 0 && !named(c.owner)) {
        live_.fenced++; // no process named: it may be a target's
        return;
      }
      live_.passed++;
      out.pass(data, length, meta);
      return;
    case net::disposition::hold:
      return; // sort() and release_held() keep these
  }
}

void packet_sorter::after_wake(net::flow_time now, bool tables_back,
                               packet_sink& out) {
  // What the tables name is known now, and a held packet past its time
  // whose port they name nobody for is given up on (release_held()).
  if (tables_back)
    note_owners(tables_.take(), owners_);
  if (held_.empty())
    return;
  if (held_.next_deadline() <= now && !tables_back)
    tables_.request(); // their time is up: ask the OS (not on this thread)
  release_held(now, tables_back, out);
}

std::optional<net::flow_time> packet_sorter::wake_by() const {
  if (held_.empty() || tables_.pending())
    return std::nullopt;
  return held_.next_deadline();
}

void packet_sorter::release_held(net::flow_time now, bool give_up,
                                 packet_sink& out) {
  held_.release_if([&](const net::held_packets::held& h) {
    const uint8_t* data = held_.data(h);
    auto c = classify(data, h.length, false, now);
    bool given_up = c.what == net::disposition::hold;
    if (given_up && !(give_up && h.deadline <= now))
      return false; // still waiting for its owner
    if (!out.has_room(h.length))
      return false; // the engine's batch is full: next time
    address meta;
    std::memcpy(&meta, held_.meta(h), sizeof meta);
    if (given_up) {
      // Not even the OS's tables name its owner.
      if (fenced_) {
        live_.fenced++; // it may be a target's: dropped
        return true;
      }
      bool mid = net::mid_connection(data, h.length);
      if (!mid && owners_.hold_back_unowned(h.protocol, h.port, now)) {
        live_.unowned_held_back++; // its sender tries again (see there)
        return true;
      }
      // Its port's next packets are decided at once (classify()).
      owners_.unowned(h.protocol, h.port, now);
      c.what = net::nobodys(data, h.length);
      if (c.what == net::disposition::pass)
        live_.unattributed++;
    }
    act(c, data, h.length, meta, out);
    return true;
  });
}

// A process not seen before opened a socket: if a rule sends it through the
// proxy (or blocks it) and it is the served user's, it is captured from
// this very socket on, without waiting for procscan. Once per process (by
// its creation time, so a reused ID is looked at again).
void packet_sorter::consider(uint32_t pid) {
  if (pid <= 4 || view_.captured(pid))
    return;
  auto id = identify_process(pid);
  if (!id)
    return;
  auto it = seen_processes_.find(pid);
  if (it != seen_processes_.end() && it->second == id->created)
    return;
  seen_processes_[pid] = id->created;
  if (!id->served)
    return;
  auto said = targets_->judge(pid, *id);
  if (said.action != config::rule_action::direct) {
    targets_->add(pid, said.action, said.direct_when_down, said.proxy);
    targets_->note_program(id->path);
    live_.adopted++;
  }
}

} // namespace drover::platform::windivert
