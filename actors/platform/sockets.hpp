#pragma once

// Socket helpers the actors need beyond CAF 0.17's broker API. Sockets are
// handed to CAF brokers (add_scribe / add_doorman) once created.

#include <cstdint>
#include <optional>
#include <string>

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

/// The peer address of a connected socket.
std::optional<net::endpoint> peer_of(socket_handle s);

/// Resolves a host name or IPv4 literal to an IPv4 address (blocking).
std::optional<net::ipv4_address> resolve_ipv4(const std::string& host,
                                              std::string& error);

} // namespace drover::platform
