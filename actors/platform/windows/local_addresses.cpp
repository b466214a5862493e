#include "actors/platform/windows/local_addresses.hpp"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <iphlpapi.h>
// After iphlpapi.h.
#include <netioapi.h>

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

namespace {

void WINAPI address_changed(PVOID context, PMIB_UNICASTIPADDRESS_ROW,
                            MIB_NOTIFICATION_TYPE) {
  static_cast<address_changes*>(context)->heard();
}

void WINAPI interface_changed(PVOID context, PMIB_IPINTERFACE_ROW,
                              MIB_NOTIFICATION_TYPE) {
  static_cast<address_changes*>(context)->heard();
}

} // namespace

address_changes::address_changes(std::chrono::seconds poll) : poll_(poll) {
  // Not registered (the handle stays null): the poll alone.
  HANDLE h = nullptr;
  if (::NotifyUnicastIpAddressChange(AF_INET, address_changed, this, FALSE, &h)
      == NO_ERROR)
    address_handle_ = h;
  h = nullptr;
  if (::NotifyIpInterfaceChange(AF_INET, interface_changed, this, FALSE, &h)
      == NO_ERROR)
    interface_handle_ = h;
}

address_changes::~address_changes() {
  // Waits for a callback under way: none runs once this returns.
  for (auto* h : {address_handle_, interface_handle_})
    if (h != nullptr)
      ::CancelMibChangeNotify2(static_cast<HANDLE>(h));
}

bool address_changes::due(std::chrono::steady_clock::time_point now) {
  if (!heard_.exchange(false) && now - last_ < poll_)
    return false;
  last_ = now;
  return true;
}

} // namespace drover::platform::windows_port
