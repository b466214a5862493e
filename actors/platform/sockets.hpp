#pragma once

// Socket helpers the actors need beyond CAF 0.17's broker API. Sockets are
// handed to CAF brokers (add_scribe / add_doorman) once created.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/packet.hpp"

namespace drover::platform {

using socket_handle = int; // CAF 0.17's io::network::native_socket on Linux

constexpr socket_handle invalid_socket = -1;

/// A listening TCP socket on `at` (port 0: the system picks); the chosen
/// port is written back. invalid_socket on failure, with `error` set.
socket_handle listen_tcp(net::endpoint& at, std::string& error);

/// Starts a non-blocking TCP connect; the socket becomes writable once
/// connected (a broker can write to it at once: CAF sends when it can).
socket_handle start_tcp_connect(net::endpoint to, std::string& error);

/// A second descriptor for the same socket (for a writer scribe beside the
/// reader scribe, so each direction closes on its own).
socket_handle duplicate_socket(socket_handle s);

void close_socket(socket_handle s);

/// TCP keepalive: the first probe after `idle` without traffic, then one
/// every `interval`; the connection fails after `count` unanswered probes.
void enable_keepalive(socket_handle s, std::chrono::seconds idle,
                      std::chrono::seconds interval, int count);

/// The calling thread's last socket error, in words (after a failed call).
std::string last_socket_error();

/// The peer address of a connected socket.
std::optional<net::endpoint> peer_of(socket_handle s);

/// Resolves a host name or IPv4 literal to an IPv4 address (blocking).
/// Whether the routing table has a way to `ip` now (after a wake, the
/// network may not be back yet). No packet is sent.
bool has_route_to(net::ipv4_address ip);

std::optional<net::ipv4_address> resolve_ipv4(const std::string& host,
                                              std::string& error);

} // namespace drover::platform

namespace drover::platform {

/// A listening local (Unix domain) socket at `path`, owner-only (0600).
/// A leftover file from a crashed run is replaced; a live one is not:
/// then `error` says another instance is running.
socket_handle listen_local(const std::string& path, std::string& error);

/// A blocking connection to a local socket; invalid_socket if nothing
/// listens there.
socket_handle connect_local(const std::string& path);

/// Sends all of `data` (a request ending in a newline) and reads until the
/// peer closes (blocking, for the command line).
std::string exchange(socket_handle s, const std::string& data);

/// The same, handing each piece of the answer to `on_data` as it arrives
/// (a stream that lasts until the peer closes).
void exchange(socket_handle s, const std::string& data,
              const std::function<void(std::string_view)>& on_data);

/// Where this instance's control socket lives.
std::string control_socket_path();

/// Where a client looks for a running engine, in order: its own runtime
/// folder, then (for a user other than root) a root engine's.
std::vector<std::string> control_socket_candidates();

/// Lets the desktop user reach a root engine (docs/desktop.md): the user
/// who started it through sudo or pkexec (SUDO_UID, PKEXEC_UID) becomes the
/// socket's owner, and members of the system group "drover" get access
/// through the group (the system service's users). Anyone else is refused
/// by the socket's mode. Returns who may connect, for the log.
std::string share_control_socket(const std::string& path);

} // namespace drover::platform
