// The kernel half of bench/sockmap_redirect.cpp: an sk_msg program that
// sends what the application's socket sends straight to another socket of
// the sockhash (key 1), to its egress or into its receive queue
// (BPF_F_INGRESS), as a kernel join of an application's connection to the
// relay would. Not part of Drover.

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u64);
} sockets SEC(".maps");

// [0]: the application's local port (only its sends are redirected);
// [1]: the redirect's flags (0: egress; BPF_F_INGRESS).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u32);
} settings SEC(".maps");

SEC("sk_msg")
int redirect(struct sk_msg_md* msg) {
  __u32 port_at = 0, flags_at = 1, to = 1;
  __u32* port = bpf_map_lookup_elem(&settings, &port_at);
  __u32* flags = bpf_map_lookup_elem(&settings, &flags_at);
  if (!port || !flags || msg->local_port != *port)
    return SK_PASS;
  return bpf_msg_redirect_hash(msg, &sockets, &to, *flags);
}

char LICENSE[] SEC("license") = "GPL";
