#include "actors/platform/linux/local_addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include "actors/platform/linux/system.hpp"

namespace drover::platform::linux_port {

namespace {

uint32_t host_order(const sockaddr* a) {
  return ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr);
}

uint8_t prefix_of(uint32_t mask) {
  uint8_t n = 0;
  while (n < 32 && (mask & (0x80000000u >> n)) != 0)
    ++n;
  return n;
}

} // namespace

std::vector<net::capture::interface_address> interface_addresses() {
  std::vector<net::capture::interface_address> out;
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0)
    return out;
  for (auto* i = all; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET
        || (i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0)
      continue;
    net::capture::interface_address a;
    a.address.value = host_order(i->ifa_addr);
    if (i->ifa_netmask != nullptr)
      a.prefix_length = prefix_of(host_order(i->ifa_netmask));
    // ifa_broadaddr shares its field with the point-to-point peer.
    if ((i->ifa_flags & IFF_BROADCAST) != 0 && i->ifa_broadaddr != nullptr
        && i->ifa_broadaddr->sa_family == AF_INET)
      a.broadcast.value = host_order(i->ifa_broadaddr);
    out.push_back(a);
  }
  ::freeifaddrs(all);
  return out;
}

// Links too: an interface brought up keeps its addresses, so none is
// announced, yet only from then on are they listed (interface_addresses()
// leaves out the interfaces that are down).
address_changes::address_changes()
    : fd_(netlink_subscribe(NETLINK_ROUTE,
                            {RTNLGRP_IPV4_IFADDR, RTNLGRP_LINK})) {}

address_changes::~address_changes() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool address_changes::changed() {
  return fd_ < 0 || netlink_heard(fd_);
}

} // namespace drover::platform::linux_port
