// Included by target_marker.bpf.c after its marks, its namespace cookie
// and its counters (one compilation unit: the kernel program).
//
// A target's or a blocked program's IPv6 connection or datagram to anywhere
// but this machine, link-local or multicast addresses: Drover relays IPv4
// only, so the attempt is refused at once (EPERM: the program falls back to
// IPv4 without waiting) rather than dropped by the fence in silence.
// IPv4-mapped addresses are IPv4 and captured as such.
#define DROVER_SOCK_DGRAM 2
static __always_inline int ipv6_refused(struct bpf_sock_addr* ctx) {
  if (bpf_get_netns_cookie(ctx) != netns_cookie)
    return 0;
  struct bpf_sock* sk = ctx->sk;
  if (!sk || ((sk->mark & ~7u) != target_mark && sk->mark != block_mark))
    return 0;
  __u32 w0 = bpf_ntohl(ctx->user_ip6[0]);
  __u32 w1 = bpf_ntohl(ctx->user_ip6[1]);
  __u32 w2 = bpf_ntohl(ctx->user_ip6[2]);
  __u32 w3 = bpf_ntohl(ctx->user_ip6[3]);
  if ((w0 >> 24) == 0xff || (w0 & 0xffc00000u) == 0xfe800000u)
    return 0; // multicast, link-local
  if (w0 == 0 && w1 == 0 && (w2 == 0xffffu || (w2 == 0 && w3 <= 1)))
    return 0; // IPv4-mapped; ::1; :: (the kernel's own answer)
  if (ctx->type == DROVER_SOCK_DGRAM) {
    __u16 port = bpf_ntohs((__u16)ctx->user_port);
    if (port == 546 || port == 547)
      return 0; // DHCPv6
  }
  count(COUNT_V6_REFUSED);
  return 1;
}

SEC("cgroup/connect6")
int drover_refuse6(struct bpf_sock_addr* ctx) {
  return ipv6_refused(ctx) ? 0 : 1;
}

SEC("cgroup/sendmsg6")
int drover_send6(struct bpf_sock_addr* ctx) {
  return ipv6_refused(ctx) ? 0 : 1;
}
