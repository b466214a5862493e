// Exec-time attribution and the fail-closed fence, in the kernel (eBPF).
//
// mark_socket (cgroup/sock_create, attached at the cgroup v2 root) runs
// whenever any process of the machine creates a socket, and applies the
// config's rules (`[[rule]]`, first match wins) to the process as it is
// then. A process matches a rule by its executable's file name or its
// command name (exactly, or by a `*`/`?` pattern), by the executable file
// itself (a `paths` entry, by identity: device and inode), by a folder the
// executable lies below (`folders`, the same way, across mount points), or,
// for a rule with `children`, through an ancestor that matches. The first
// rule that matches decides: `proxy` gives the socket the target mark
// before it can send anything (the capture rules match that mark), `block`
// the block mark (connections refused, nothing leaves), `direct` nothing.
// Processes in the engine's own cgroup (`drover run` and its children) are
// targets whatever the rules say; only the served users' processes are
// looked at otherwise. Nothing is polled, so a program that connects in its
// first microsecond is captured like any other.
//
// fence (cgroup_skb/egress, attached at the root too) is the second line:
// a packet from a target- or block-marked socket may leave only for
// loopback (where the capture sends redirected connections and, through
// lo, datagrams) or a destination the capture deliberately leaves alone,
// or (targets only) when the engine itself let it out (the pass mark, for
// `when_not_proxying = "direct"`). Anything else is dropped, so a target
// never goes direct, not even when someone flushes the firewall rules or
// the engine is killed.
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
  struct dentry* d_parent;
  struct inode* d_inode;
} __attribute__((preserve_access_index));
struct path {
  struct vfsmount* mnt;
  struct dentry* dentry;
} __attribute__((preserve_access_index));
struct file {
  struct path f_path;
  struct inode* f_inode;
} __attribute__((preserve_access_index));
struct mm_struct {
  struct file* exe_file;
} __attribute__((preserve_access_index));
struct inode {
  unsigned long i_ino;
  struct super_block* i_sb;
} __attribute__((preserve_access_index));
struct super_block {
  unsigned int s_dev;
} __attribute__((preserve_access_index));
struct vfsmount {
  struct dentry* mnt_root;
} __attribute__((preserve_access_index));
struct mount {
  struct mount* mnt_parent;
  struct dentry* mnt_mountpoint;
  struct vfsmount mnt;
} __attribute__((preserve_access_index));
struct task_struct {
  struct mm_struct* mm;
  struct task_struct* real_parent;
  int tgid;
  char comm[16];
} __attribute__((preserve_access_index));

#define DROVER_NAME_LEN 64     // keep in step with target_marker.cpp
#define DROVER_ANCESTORS 8     // how far up `children` is looked for
#define DROVER_WILDCARDS 32    // patterns with * or ? (each .exe one twice)
#define DROVER_FOLDER_DEPTH 32 // folders looked at above an executable

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
volatile const __u32 block_mark = 0;
volatile const __u32 engine_tgid = 0;
volatile const __u64 engine_cgroup_id = 0;
volatile const __u32 engine_cgroup_level = 0;

// Rules are bits of a 32-bit set, rule 0 the lowest: the maps say which
// rules a name, a pattern, a file or a folder belongs to; the lowest bit
// of what a process matches is the first rule, which decides. Every entry
// belongs to a generation (0 or 1): the engine writes a new rule set into
// the generation not in use, switches SETTING_GENERATION, then clears the
// old one, so a socket is never judged by half of each.
struct name_key {
  __u32 generation;
  char name[DROVER_NAME_LEN];
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2048);
  __type(key, struct name_key);
  __type(value, __u32); // the rules this exact name is in
} target_names SEC(".maps");

struct wildcard {
  char pattern[DROVER_NAME_LEN];
  __u32 length;
  __u32 rules;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2 * DROVER_WILDCARDS); // generation 1 from 32 on
  __type(key, __u32);
  __type(value, struct wildcard);
} wildcards SEC(".maps");

// A file or folder by identity: its file system (the kernel's device
// number, as /proc/self/mountinfo shows it) and its inode.
struct file_key {
  __u64 generation;
  __u64 device;
  __u64 inode;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct file_key);
  __type(value, __u32); // the rules this executable is in (`paths`)
} rule_files SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct file_key);
  __type(value, __u32); // the rules everything below is in (`folders`)
} rule_folders SEC(".maps");

// `drover run --proxy`'s groups below the engine's: a member's sockets
// go through that proxy (a member of the engine's group itself: the first).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, __u64);   // cgroup ID
  __type(value, __u32); // the proxy's index
} run_groups SEC(".maps");

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
  __uint(max_entries, 512); // skip_capacity in target_marker.cpp
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct skip_key);
  __type(value, __u8);
} skip_v4 SEC(".maps");

// Settings that change while the programs run (the read-only data above
// cannot), each a 32-bit set of rules or a count; entry 0 says which
// generation is in force, and generation g's settings are at
// 1 + g * SETTINGS + SETTING_x.
#define SETTING_CHILDREN 0  // rules with `children`: ancestors are looked at
#define SETTING_PROXY 1     // rules whose action is `proxy`
#define SETTING_BLOCK 2     // rules whose action is `block`
#define SETTING_WILDCARDS 3 // how many entries of `wildcards` are in use
#define SETTING_FILES 4     // nonzero when `rule_files` has entries
#define SETTING_FOLDERS 5   // nonzero when `rule_folders` has entries
#define SETTING_DIRECT_WHEN_DOWN 6 // `proxy` rules whose fallback is direct
// Which proxy a `proxy` rule uses, as three bit planes: rule r uses proxy
// (bit r of PROXY_BIT0) | (bit r of PROXY_BIT1) << 1 | (... BIT2) << 2.
#define SETTING_PROXY_BIT0 7
#define SETTING_PROXY_BIT1 8
#define SETTING_PROXY_BIT2 9
#define SETTINGS 10
// One more entry after both generations' (not per generation): what
// cannot be proxied now. Bit p: proxy p cannot be used for TCP now; bit
// 8 + p: for UDP (down, or a proxy without UDP).
#define PROXY_DOWN (1 + 2 * SETTINGS)
#define UDP_DOWN_SHIFT 8

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2 + 2 * SETTINGS);
  __type(key, __u32);
  __type(value, __u32);
} settings SEC(".maps");

static __always_inline __u32 generation_in_force(void) {
  __u32 key = 0;
  __u32* v = bpf_map_lookup_elem(&settings, &key);
  return v ? (*v & 1) : 0;
}

static __always_inline __u32 setting(__u32 generation, __u32 which) {
  __u32 key = 1 + generation * SETTINGS + which;
  __u32* v = bpf_map_lookup_elem(&settings, &key);
  return v ? *v : 0;
}

#define COUNT_MARKED 0
#define COUNT_FENCED 1
#define COUNT_V6_REFUSED 2

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 3);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64* c = bpf_map_lookup_elem(&counters, &which);
  if (c)
    *c += 1;
}

// One pattern against one name, a step per call of bpf_loop (so the
// verifier looks at a step once, not at every path through the loop):
// greedy, with one point to come back to, the last '*' (the same as
// config::wildcard_match).
struct glob_state {
  char pattern[DROVER_NAME_LEN];
  char text[DROVER_NAME_LEN];
  __u32 pattern_length;
  __u32 text_length;
  __u32 p;
  __u32 t;
  __u32 star; // DROVER_NAME_LEN: none yet
  __u32 star_t;
  __u32 matched;
};

// The state lives in a map, not on the stack: the verifier then knows
// nothing of its numbers and checks a step once, rather than following
// every step of every comparison with the numbers it would have.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct glob_state);
} glob_scratch SEC(".maps");

// What bpf_loop hands each step (it takes a pointer to the stack only).
struct glob_context {
  struct glob_state* g;
};

static long glob_step(__u32 index, void* data) {
  struct glob_state* g = ((struct glob_context*)data)->g;
  (void)index;
  char pc
      = g->p < g->pattern_length ? g->pattern[g->p & (DROVER_NAME_LEN - 1)] : 0;
  if (g->t >= g->text_length) {
    if (pc == '*') {
      g->p++;
      return 0;
    }
    g->matched = g->p >= g->pattern_length;
    return 1;
  }
  char tc = g->text[g->t & (DROVER_NAME_LEN - 1)];
  if (pc != 0 && (pc == '?' || (pc != '*' && pc == tc))) {
    g->p++;
    g->t++;
  } else if (pc == '*') {
    g->star = g->p++;
    g->star_t = g->t;
  } else if (g->star < DROVER_NAME_LEN) {
    g->p = g->star + 1;
    g->t = ++g->star_t;
  } else {
    return 1; // no match
  }
  return 0;
}

// How long the string in `s` (at most DROVER_NAME_LEN bytes) is.
static __always_inline __u32 length_of(const char* s) {
  __u32 n = 0;
  for (int i = 0; i < DROVER_NAME_LEN; ++i) {
    if (s[i] == 0)
      break;
    n++;
  }
  return n;
}

// The rules whose patterns match `name` (length `length`).
static __always_inline __u32 wildcard_rules(const struct name_key* name,
                                            __u32 length,
                                            struct glob_state* g) {
  __u32 rules = 0;
  __u32 count = setting(name->generation, SETTING_WILDCARDS);
  for (__u32 i = 0; i < DROVER_WILDCARDS; ++i) {
    if (i >= count)
      break;
    __u32 at = name->generation * DROVER_WILDCARDS + i;
    struct wildcard* w = bpf_map_lookup_elem(&wildcards, &at);
    if (!w)
      break;
    __builtin_memcpy(g->pattern, w->pattern, DROVER_NAME_LEN);
    __builtin_memcpy(g->text, name->name, DROVER_NAME_LEN);
    g->pattern_length = w->length;
    g->text_length = length;
    g->p = g->t = g->star_t = g->matched = 0;
    g->star = DROVER_NAME_LEN;
    struct glob_context context = {g};
    bpf_loop((DROVER_NAME_LEN + 1) * (DROVER_NAME_LEN + 2), glob_step, &context,
             0);
    if (g->matched)
      rules |= w->rules;
  }
  return rules;
}

// The rules a name (a kernel string: the executable's file name or the
// command name) is in, exactly or by a pattern.
static __always_inline __u32 name_rules(__u32 generation, const void* name,
                                        __u32 max, struct glob_state* g) {
  struct name_key key = {};
  key.generation = generation;
  if (!name || bpf_probe_read_kernel_str(key.name, max, name) <= 0)
    return 0;
  __u32 rules = 0;
  __u32* exact = bpf_map_lookup_elem(&target_names, &key);
  if (exact)
    rules = *exact;
  if (setting(generation, SETTING_WILDCARDS))
    rules |= wildcard_rules(&key, length_of(key.name), g);
  return rules;
}

static __always_inline __u32 identity_rules(void* map, __u32 generation,
                                            struct dentry* d) {
  struct file_key key = {};
  key.generation = generation;
  key.device = BPF_CORE_READ(d, d_inode, i_sb, s_dev);
  key.inode = BPF_CORE_READ(d, d_inode, i_ino);
  __u32* rules = bpf_map_lookup_elem(map, &key);
  return rules ? *rules : 0;
}

// The rules of the folders `exe` lies below, up to the root, crossing
// mount points (a program in a snap or an AppImage is below the folder
// its file system is mounted on).
static __always_inline __u32 folder_rules(__u32 generation, struct file* exe) {
  struct dentry* d = BPF_CORE_READ(exe, f_path.dentry);
  struct vfsmount* vfs = BPF_CORE_READ(exe, f_path.mnt);
  struct mount* m
      = (struct mount*)((char*)vfs - bpf_core_field_offset(struct mount, mnt));
  __u32 rules = 0;
  for (int i = 0; i < DROVER_FOLDER_DEPTH; ++i) {
    struct dentry* root = BPF_CORE_READ(m, mnt.mnt_root);
    if (d == root) {
      struct mount* parent = BPF_CORE_READ(m, mnt_parent);
      if (!parent || parent == m)
        break; // the root of everything
      d = BPF_CORE_READ(m, mnt_mountpoint);
      m = parent;
      continue;
    }
    d = BPF_CORE_READ(d, d_parent);
    if (!d)
      break;
    rules |= identity_rules(&rule_folders, generation, d);
  }
  return rules;
}

// The rules a process matches by itself (its ancestors aside). A global
// function: the verifier checks it once, however often it is called.
__attribute__((noinline)) __u32 own_rules(__u64 task, __u32 generation) {
  struct task_struct* t = (struct task_struct*)task;
  __u32 zero = 0;
  struct glob_state* g = bpf_map_lookup_elem(&glob_scratch, &zero);
  if (!g)
    return 0;
  struct file* exe = BPF_CORE_READ(t, mm, exe_file);
  const unsigned char* exe_name
      = BPF_CORE_READ(t, mm, exe_file, f_path.dentry, d_name.name);
  generation &= 1;
  __u32 rules = name_rules(generation, exe_name, DROVER_NAME_LEN, g);
  rules |= name_rules(generation, t->comm, sizeof t->comm, g);
  if (!exe)
    return rules;
  if (setting(generation, SETTING_FILES))
    rules |= identity_rules(&rule_files, generation,
                            BPF_CORE_READ(exe, f_path.dentry));
  if (setting(generation, SETTING_FOLDERS))
    rules |= folder_rules(generation, exe);
  return rules;
}

// The mark the current process's new socket (`protocol`) gets: the target
// mark plus the index of the rule's proxy (the capture's rules send each
// proxy's sockets to its own relay), the block mark, or 0 (not captured).
static __always_inline __u32 socket_mark(__u32 protocol) {
  if (engine_cgroup_id != 0
      && bpf_get_current_ancestor_cgroup_id(engine_cgroup_level)
             == engine_cgroup_id) {
    __u64 group = bpf_get_current_ancestor_cgroup_id(engine_cgroup_level + 1);
    __u32* proxy = group ? bpf_map_lookup_elem(&run_groups, &group) : 0;
    return target_mark + (proxy ? (*proxy & 7u) : 0u);
  }
  __u32 uid = (__u32)bpf_get_current_uid_gid();
  if (!bpf_map_lookup_elem(&target_uids, &uid))
    return 0;
  struct task_struct* t = (struct task_struct*)bpf_get_current_task();
  __u32 generation = generation_in_force();
  __u32 rules = own_rules((__u64)t, generation);
  __u32 children = setting(generation, SETTING_CHILDREN);
  // An ancestor can only decide through a rule before the first one the
  // process matches itself.
  __u32 first = rules & -rules;
  __u32 wanted = first ? children & (first - 1) : children;
  if (wanted) {
    struct task_struct* up = BPF_CORE_READ(t, real_parent);
    for (int i = 0; i < DROVER_ANCESTORS; ++i) {
      if (!up || BPF_CORE_READ(up, tgid) <= 1)
        break;
      rules |= own_rules((__u64)up, generation) & wanted;
      up = BPF_CORE_READ(up, real_parent);
    }
  }
  __u32 winner = rules & -rules;
  if (!winner)
    return 0;
  if (winner & setting(generation, SETTING_PROXY)) {
    __u32 proxy
        = (winner & setting(generation, SETTING_PROXY_BIT0) ? 1u : 0u)
          | (winner & setting(generation, SETTING_PROXY_BIT1) ? 2u : 0u)
          | (winner & setting(generation, SETTING_PROXY_BIT2) ? 4u : 0u);
    // While its proxy cannot be used, a rule whose fallback is direct
    // lets its new sockets go direct, for their whole life.
    __u32 key = PROXY_DOWN;
    __u32* down = bpf_map_lookup_elem(&settings, &key);
    __u32 mask = 1u << (proxy + (protocol == IPPROTO_UDP ? UDP_DOWN_SHIFT : 0));
    if (down && (*down & mask)
        && (winner & setting(generation, SETTING_DIRECT_WHEN_DOWN)))
      return 0;
    return target_mark + proxy;
  }
  if (winner & setting(generation, SETTING_BLOCK))
    return block_mark;
  return 0; // a `direct` rule
}

SEC("cgroup/sock_create")
int drover_mark(struct bpf_sock* sk) {
  if (sk->family != AF_INET && sk->family != AF_INET6)
    return 1;
  if (bpf_get_netns_cookie(sk) != netns_cookie)
    return 1;
  if ((bpf_get_current_pid_tgid() >> 32) == engine_tgid)
    return 1; // the engine's own sockets (to the proxy) are never targets
  __u32 mark = socket_mark(sk->protocol);
  if (mark) {
    sk->mark = mark;
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
  // Target marks are target_mark + a proxy's index (0..7).
  if (!sk || ((sk->mark & ~7u) != target_mark && sk->mark != block_mark))
    return 1;
  if (sk->mark == block_mark) {
    // A blocked program reaches loopback and nothing else.
    if (skb->ifindex == 1)
      return 1;
    count(COUNT_FENCED);
    return 0;
  }
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

// Their IPv6 refused at connect() and sendto().
#include "ipv6_refusal.bpf.h"

// GPL-compatible: reading the process's executable name needs
// bpf_probe_read_kernel, which the kernel offers to such programs only.
char LICENSE[] SEC("license") = "Dual MIT/GPL";
