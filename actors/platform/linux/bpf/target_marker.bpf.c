// Exec-time attribution and the fail-closed fence, in the kernel (eBPF).
//
// mark_socket (cgroup/sock_create, attached at the cgroup v2 root) runs
// whenever any process of the machine creates a socket. When the process is
// a target, the socket gets the engine's target mark before it can send
// anything; the capture rules match that mark. A target is:
//   - a process in the engine's own cgroup (`drover run` and its children);
//   - a process of a served user whose executable (or command name) is in
//     target_names, or whose ancestor there is flagged "with children".
// The decision is made at socket creation, from the process as it is then:
// nothing is polled, so a program that connects in its first microsecond
// is captured like any other.
//
// fence (cgroup_skb/egress, attached at the root too) is the second line:
// a packet from a target-marked socket may leave only for loopback (where
// the capture sends redirected connections and, through lo, datagrams) or
// a destination the capture
// deliberately leaves alone, or when the engine itself let it out (the
// pass mark, for `when_not_proxying = "direct"`). Anything else is
// dropped, so a target never goes direct, not even when someone flushes
// the firewall rules or the engine is killed.
//
// Both programs are attached without a link: they stay attached when the
// engine dies (kill -9), until the next engine replaces them or a Stop
// removes them. Each engine's programs serve one network namespace, known
// by its cookie, so engines in other namespaces never interfere.

#include <linux/bpf.h>
#include <linux/in.h>

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// The few kernel types read here, relocated by field name (CO-RE), so the
// object runs on any kernel with BTF whatever the layout.
struct qstr {
  const unsigned char* name;
} __attribute__((preserve_access_index));
struct dentry {
  struct qstr d_name;
} __attribute__((preserve_access_index));
struct path {
  struct dentry* dentry;
} __attribute__((preserve_access_index));
struct file {
  struct path f_path;
} __attribute__((preserve_access_index));
struct mm_struct {
  struct file* exe_file;
} __attribute__((preserve_access_index));
struct task_struct {
  struct mm_struct* mm;
  struct task_struct* real_parent;
  int tgid;
  char comm[16];
} __attribute__((preserve_access_index));

#define DROVER_NAME_LEN 64 // keep in step with target_marker.cpp
#define DROVER_ANCESTORS 8 // how far up "with children" is looked for

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

// Values fixed when the engine loads the programs (read-only data: the
// verifier folds them in). The first field is what a later engine reads to
// find the programs of its own namespace.
volatile const __u64 netns_cookie = 0;
volatile const __u64 netns_inode = 0; // to tell a dead namespace's leftovers
volatile const __u32 target_mark = 0;
volatile const __u32 pass_mark = 0;
volatile const __u32 engine_tgid = 0;
volatile const __u64 engine_cgroup_id = 0;
volatile const __u32 engine_cgroup_level = 0;

struct name_key {
  char name[DROVER_NAME_LEN];
};

#define NAME_TARGET 1u        // the process itself
#define NAME_WITH_CHILDREN 2u // and its descendants

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct name_key);
  __type(value, __u32); // NAME_* flags
} target_names SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u32); // uid
  __type(value, __u8);
} target_uids SEC(".maps");

struct skip_key {
  __u32 prefix_length;
  __u32 address; // network byte order
};

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 512);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct skip_key);
  __type(value, __u8);
} skip_v4 SEC(".maps");

// Settings that change while the programs run (the read-only data above
// cannot): [0] nonzero when some name is flagged "with children", so that
// the walk up the parents is done only then.
#define SETTING_ANY_WITH_CHILDREN 0

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} settings SEC(".maps");

#define COUNT_MARKED 0
#define COUNT_FENCED 1

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64* c = bpf_map_lookup_elem(&counters, &which);
  if (c)
    *c += 1;
}

// The flags of `name` (a kernel string) in target_names, or 0.
static __always_inline __u32 name_flags(const void* name, __u32 max) {
  struct name_key key = {};
  if (!name || bpf_probe_read_kernel_str(key.name, max, name) <= 0)
    return 0;
  __u32* flags = bpf_map_lookup_elem(&target_names, &key);
  return flags ? *flags : 0;
}

// The executable's file name (symlinks resolved: what actually runs) or
// the command name (the name it was started by, up to 15 characters:
// symlinks and `#!` scripts).
static __always_inline __u32 process_flags(struct task_struct* t) {
  const unsigned char* exe
      = BPF_CORE_READ(t, mm, exe_file, f_path.dentry, d_name.name);
  __u32 flags = name_flags(exe, DROVER_NAME_LEN);
  if (flags)
    return flags;
  return name_flags(t->comm, sizeof t->comm);
}

static __always_inline int is_target(void) {
  if (engine_cgroup_id != 0
      && bpf_get_current_ancestor_cgroup_id(engine_cgroup_level)
             == engine_cgroup_id)
    return 1;
  __u32 uid = (__u32)bpf_get_current_uid_gid();
  if (!bpf_map_lookup_elem(&target_uids, &uid))
    return 0;
  struct task_struct* t = (struct task_struct*)bpf_get_current_task();
  if (process_flags(t) & NAME_TARGET)
    return 1;
  __u32 key = SETTING_ANY_WITH_CHILDREN;
  __u32* any_with_children = bpf_map_lookup_elem(&settings, &key);
  if (!any_with_children || !*any_with_children)
    return 0;
  struct task_struct* up = BPF_CORE_READ(t, real_parent);
  for (int i = 0; i < DROVER_ANCESTORS; ++i) {
    if (!up || BPF_CORE_READ(up, tgid) <= 1)
      return 0;
    if (process_flags(up) & NAME_WITH_CHILDREN)
      return 1;
    up = BPF_CORE_READ(up, real_parent);
  }
  return 0;
}

SEC("cgroup/sock_create")
int drover_mark(struct bpf_sock* sk) {
  if (sk->family != AF_INET && sk->family != AF_INET6)
    return 1;
  if (bpf_get_netns_cookie(sk) != netns_cookie)
    return 1;
  if ((bpf_get_current_pid_tgid() >> 32) == engine_tgid)
    return 1; // the engine's own sockets (to the proxy) are never targets
  if (is_target()) {
    sk->mark = target_mark;
    count(COUNT_MARKED);
  }
  return 1; // never refuse the socket itself
}

struct ipv4_header {
  __u8 version_ihl;
  __u8 tos;
  __u16 total_length;
  __u16 id;
  __u16 fragment;
  __u8 ttl;
  __u8 protocol;
  __u16 checksum;
  __u32 src;
  __u32 dst;
};

static __always_inline int ipv4_may_leave(struct __sk_buff* skb) {
  struct ipv4_header ip;
  if (bpf_skb_load_bytes(skb, 0, &ip, sizeof ip))
    return 0;
  if ((bpf_ntohl(ip.dst) >> 24) == 127)
    return 1; // loopback: where redirected connections go
  if (ip.protocol == IPPROTO_UDP) {
    __u16 dport = 0;
    __u32 at = (ip.version_ihl & 0x0f) * 4 + 2;
    if (bpf_skb_load_bytes(skb, at, &dport, sizeof dport) == 0) {
      dport = bpf_ntohs(dport);
      if (dport == 67 || dport == 68)
        return 1; // DHCP
    }
  }
  struct skip_key key = {32, ip.dst};
  return bpf_map_lookup_elem(&skip_v4, &key) != 0;
}

static __always_inline int ipv6_may_leave(struct __sk_buff* skb) {
  __u8 dst[16];
  __u8 next = 0;
  if (bpf_skb_load_bytes(skb, 6, &next, 1)
      || bpf_skb_load_bytes(skb, 24, dst, sizeof dst))
    return 0;
  if (dst[0] == 0xff)
    return 1; // multicast
  if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)
    return 1; // link-local
  int loopback = dst[15] == 1;
#pragma unroll
  for (int i = 0; i < 15; ++i)
    if (dst[i] != 0)
      loopback = 0;
  if (loopback)
    return 1;
  if (next == IPPROTO_UDP) {
    __u16 dport = 0;
    if (bpf_skb_load_bytes(skb, 40 + 2, &dport, sizeof dport) == 0) {
      dport = bpf_ntohs(dport);
      if (dport == 546 || dport == 547)
        return 1; // DHCPv6
    }
  }
  return 0;
}

SEC("cgroup_skb/egress")
int drover_fence(struct __sk_buff* skb) {
  struct bpf_sock* sk = skb->sk;
  if (!sk)
    return 1;
  sk = bpf_sk_fullsock(sk);
  if (!sk || sk->mark != target_mark)
    return 1;
  if (pass_mark != 0 && skb->mark == pass_mark)
    return 1;
  // Routed to lo (ifindex 1 in every namespace): it never leaves the
  // machine. The capture's policy route sends the targets' UDP there, to
  // the relay's transparent socket, with the remote still its destination.
  if (skb->ifindex == 1)
    return 1;
  if (skb->protocol == bpf_htons(ETH_P_IP) && ipv4_may_leave(skb))
    return 1;
  if (skb->protocol == bpf_htons(ETH_P_IPV6) && ipv6_may_leave(skb))
    return 1;
  count(COUNT_FENCED);
  return 0;
}

// GPL-compatible: reading the process's executable name needs
// bpf_probe_read_kernel, which the kernel offers to such programs only.
char LICENSE[] SEC("license") = "Dual MIT/GPL";
