#pragma once

// Drover's kernel programs as the kernel shows them at the cgroup root,
// whoever attached them (this engine, a killed one, an engine of another
// network namespace): found by name, told apart by their read-only data.
// Shared by target_marker, which replaces a killed engine's programs, and
// `drover unblock`, which removes them.

#include <unistd.h>

#include <bpf/bpf.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace drover::platform::linux_port {

// Drover's programs, in the order they are attached: the mark first (from
// then on every new target socket is marked), the fence that keeps marked
// sockets in, then the refusals of their IPv6. Their names as the kernel
// knows them are how a later engine finds them among everything attached
// at the root.
struct program_slot {
  const char* name;
  bpf_attach_type type;
};
inline constexpr std::array<program_slot, 4> programs{{
    {"drover_mark", BPF_CGROUP_INET_SOCK_CREATE},
    {"drover_fence", BPF_CGROUP_INET_EGRESS},
    {"drover_refuse6", BPF_CGROUP_INET6_CONNECT},
    {"drover_send6", BPF_CGROUP_UDP6_SENDMSG},
}};

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

// A Drover program attached somewhere: its name and whose it is.
struct found_program {
  uint32_t id = 0;
  std::string name;
  uint64_t cookie = 0;
  uint64_t inode = 0;
  uint32_t target_mark = 0; // 0: not read
  uint32_t engine = 0;      // the engine's process ID; 0: not read
};

/// Calls `f(program, its fd, its attach type)` for each Drover program
/// attached at `cgroup_fd`.
void for_each_program(
    int cgroup_fd,
    const std::function<void(const found_program&, int, bpf_attach_type)>& f);

/// Detaches the Drover programs at `cgroup_fd` for which `remove` says so;
/// returns how many.
int detach_programs(int cgroup_fd,
                    const std::function<bool(const found_program&)>& remove);

/// Whether a running Drover's process attached this network namespace's
/// programs (whatever its control socket: one of another user's runtime
/// folder). Another Drover process that took a dead engine's ID counts
/// too: the safe side.
bool engine_attached_here(const std::string& cgroup_root);

/// What detach_programs_left() took away: this namespace's, and those of
/// namespaces that no longer exist (they held nothing back any more).
struct programs_detached {
  int own = 0;
  int orphaned = 0;
};

/// Detaches what an engine of this network namespace left attached (one
/// killed while capturing), and the programs of engines whose namespace no
/// longer exists: `drover unblock`, once engine_attached_here() said none
/// runs.
programs_detached detach_programs_left(const std::string& cgroup_root);

} // namespace drover::platform::linux_port
