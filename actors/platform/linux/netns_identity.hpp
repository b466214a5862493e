#pragma once

// Which network namespace an engine serves, as the kernel names it (its
// cookie, never reused while the system runs; its inode, to tell a dead
// namespace's leftovers), and the capture marks that follow from it.

#include <cstdint>
#include <set>

namespace drover::platform::linux_port {

/// The marks of one network namespace's capture, derived from its cookie so
/// that engines in different namespaces never share them.
struct capture_marks {
  uint32_t target = 0; // sockets of targets (set by the kernel program)
  uint32_t pass = 0;   // packets the engine lets out direct on purpose
  uint32_t block = 0;  // sockets of programs a `block` rule matches
};

/// This network namespace's cookie (never reused while the system runs),
/// or 0 when the kernel cannot tell it.
uint64_t netns_cookie();

/// The inode of this process's network namespace (/proc/self/ns/net).
uint64_t netns_inode();

/// Whether the network namespace `inode` is in use: by a process, or kept
/// by a name (/run/netns). Asked when a program or folder has already been
/// seen, so that a namespace made after it was is never taken for dead.
/// Inode 0 (a program whose data could not be read: an older Drover's) is
/// none.
bool netns_in_use(uint64_t inode);

/// The marks for the namespace `cookie`, none of whose target marks is in
/// `taken` (those of engines in other namespaces).
capture_marks marks_for(uint64_t cookie, const std::set<uint32_t>& taken = {});

} // namespace drover::platform::linux_port
