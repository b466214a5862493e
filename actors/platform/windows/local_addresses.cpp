#include "actors/platform/windows/local_addresses.hpp"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <iphlpapi.h>

#include <vector>

namespace drover::platform::windows_port {

std::vector<net::capture::interface_address> interface_addresses() {
  std::vector<net::capture::interface_address> out;
  const ULONG flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST
                      | GAA_FLAG_SKIP_DNS_SERVER;
  // The list's size is known only by asking; it may grow between asks.
  ULONG size = 16 * 1024;
  std::vector<unsigned char> buffer;
  ULONG rc = ERROR_BUFFER_OVERFLOW;
  for (int i = 0; i < 3 && rc == ERROR_BUFFER_OVERFLOW; ++i) {
    buffer.resize(size);
    rc = ::GetAdaptersAddresses(
        AF_INET, flags, nullptr,
        reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buffer.data()), &size);
  }
  if (rc != NO_ERROR)
    return out;
  for (auto* a = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buffer.data());
       a != nullptr; a = a->Next) {
    if (a->OperStatus != IfOperStatusUp
        || a->IfType == IF_TYPE_SOFTWARE_LOOPBACK)
      continue;
    for (auto* u = a->FirstUnicastAddress; u != nullptr; u = u->Next) {
      auto* sa = u->Address.lpSockaddr;
      if (sa == nullptr || sa->sa_family != AF_INET)
        continue;
      net::capture::interface_address ia;
      ia.address.value
          = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
      ia.prefix_length = u->OnLinkPrefixLength;
      out.push_back(ia);
    }
  }
  return out;
}

} // namespace drover::platform::windows_port
