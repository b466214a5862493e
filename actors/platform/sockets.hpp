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

// CAF 0.17's io::network::native_socket: a descriptor on Linux, a SOCKET
// (an unsigned handle) on Windows. Compare with invalid_socket, never < 0.
#ifdef _WIN32
using socket_handle = size_t;
constexpr socket_handle invalid_socket = static_cast<socket_handle>(-1);
#else
using socket_handle = int;
constexpr socket_handle invalid_socket = -1;
#endif

/// A listening TCP socket on `at` (port 0: the system picks); the chosen
/// port is written back. invalid_socket on failure, with `error` set.
socket_handle listen_tcp(net::endpoint& at, std::string& error);

/// The loopback listener the capture sends the targets' connections to.
/// Linux: on a port below 1024, which only a privileged process can take,
/// so no local program can stand in for the engine while it restarts (the
/// kernel keeps redirecting to the port meanwhile); the backlog takes a
/// burst of thousands. Windows: any free port. Sets `at.port`.
socket_handle listen_for_redirects(net::endpoint& at, std::string& error);

/// Linux: the transparent UDP socket the kernel hands the targets'
/// datagrams to (TPROXY), each with its original destination; on `at.port`
/// if free for UDP, else a lower privileged port (sets `at.port`).
/// Windows: invalid_socket (WinDivert brings datagrams as packets).
socket_handle open_datagram_intake(net::endpoint& at, std::string& error);

/// Starts a non-blocking TCP connect; the socket becomes writable once
/// connected (a broker can write to it at once: CAF sends when it can).
socket_handle start_tcp_connect(net::endpoint to, std::string& error);

/// A second descriptor for the same socket (for a writer scribe beside the
/// reader scribe, so each direction closes on its own).
socket_handle duplicate_socket(socket_handle s);

void close_socket(socket_handle s);

/// Ends the connection on `s` at once, in both directions: whatever is
/// still unsent is dropped (a broker's close() would wait for a peer that
/// never reads). The descriptor stays for its owner to close.
void cut_connection(socket_handle s);

/// TCP keepalive: the first probe after `idle` without traffic, then one
/// every `interval`; the connection fails after `count` unanswered probes.
void enable_keepalive(socket_handle s, std::chrono::seconds idle,
                      std::chrono::seconds interval, int count);

/// The calling thread's last socket error, in words (after a failed call).
std::string last_socket_error();

/// True when the calling thread's last socket call failed for want of
/// descriptors (this process's limit or the system's): the engine's own
/// trouble, never a sign that the proxy is down.
bool out_of_descriptors();

/// The peer address of a connected socket.
std::optional<net::endpoint> peer_of(socket_handle s);

/// Writes `e` as the system's socket address (sockaddr_in) into `out`
/// (at least `capacity` bytes); returns its length, or 0 when it does not
/// fit. For a framework that takes addresses as raw bytes (CAF).
size_t write_socket_address(net::endpoint e, void* out, size_t capacity);

/// The local address a connected socket uses.
std::optional<net::endpoint> local_of(socket_handle s);

/// A UDP socket bound to `local`'s address (any port) and connected to
/// `peer`: the system delivers it datagrams from `peer` only, so nobody
/// else can slip one in (a SOCKS5 UDP relay's socket). invalid_socket on
/// failure, with `error` set.
socket_handle connected_udp(net::ipv4_address local, net::endpoint peer,
                            std::string& error);

/// Resolves a host name or IPv4 literal to an IPv4 address (blocking).
/// Whether the routing table has a way to `ip` now (after a wake, the
/// network may not be back yet). No packet is sent.
bool has_route_to(net::ipv4_address ip);

std::optional<net::ipv4_address> resolve_ipv4(const std::string& host,
                                              std::string& error);

} // namespace drover::platform

namespace drover::platform {

/// A listening local (Unix domain) socket at `path`, owner-only (0600).
/// Windows: the named pipe `path` (administrators and this user), bridged
/// to a loopback listener, which is what is returned for the broker.
/// A leftover file from a crashed run is replaced; a live one is not:
/// then `error` says another instance is running.
socket_handle listen_local(const std::string& path, std::string& error);

/// At the end of the process that listened there: removes the socket file
/// listen_local() made at `path`, unless it is no longer that one (another
/// engine's, made after this one's listener closed or was deleted).
/// Windows: nothing (a named pipe ends with its last handle).
void remove_local(const std::string& path);

/// Whether the control server should serve a connection from `peer_port`.
/// Linux: always (the socket file's mode admitted it). Windows: only the
/// named-pipe bridge's own connections (the pipe's access list admitted
/// them; the loopback listener behind it is reachable by anyone).
bool local_client_admitted(uint16_t peer_port);

/// Whether the client on control connection `s` may change things (the
/// settings, quit, the trace log) beside looking and Start/Stop/Retry:
/// root and the user the engine runs for. Other callers the socket admits
/// (the group "drover") may not. Linux: the peer's credentials
/// (SO_PEERCRED). Windows: the pipe admits only administrators and the
/// engine's own user, all of whom may.
bool control_client_may_configure(socket_handle s);

/// What control_client_user says when it cannot tell the user.
constexpr uint32_t unknown_control_user = 0xFFFFFFFFu;

/// Who the client on control connection `s` is, for its share of the
/// connections: the peer's user ID (Linux, SO_PEERCRED); on Windows, where
/// the pipe bridge stands between, one ID for all (unknown_control_user).
uint32_t control_client_user(socket_handle s);

/// The process that opened control connection `s`, by the kernel's word
/// (Linux: SO_PEERCRED, as of its connect(); Windows: the pipe client's,
/// as the bridge registered it); 0 when unknown.
uint32_t control_client_process(socket_handle s);

/// Whether the control server must ask local_client_admitted (Windows). On
/// Linux it must not even ask a Unix socket for a port (CAF aborts).
#ifdef _WIN32
constexpr bool local_clients_need_admission = true;
#else
constexpr bool local_clients_need_admission = false;
#endif

/// Why connect_local() got no connection.
enum class local_refusal : uint8_t {
  none_there, // nothing listens there (no socket or pipe, or a socket left
              // by a run that ended)
  not_yours,  // this user may not connect to what is there
  busy,       // it takes no client now (every pipe instance stayed taken)
  failed,     // another error (`text` says which)
};

struct local_connect_error {
  local_refusal kind = local_refusal::none_there;
  std::string text; // the OS's words, for `failed`
};

/// A blocking connection to a local socket (Windows: the named pipe);
/// invalid_socket if none was made, and then `error`, when given, says
/// why. A server that takes no client (a stuck engine whose backlog is
/// full; every pipe instance taken) is waited for `wait` at most, then it
/// is `busy`. Only exchange() and close_local() take it.
socket_handle
connect_local(const std::string& path, local_connect_error* error = nullptr,
              std::chrono::milliseconds wait = std::chrono::seconds{10});

void close_local(socket_handle s);

/// Whether the engine at the other end of local connection `s` is Drover;
/// when not, `why` says what serves it instead. Windows: a pipe name can
/// be taken by any program before the engine starts, so the pipe's server
/// must be this same drover.exe, running elevated (as the engine always
/// does); a client asks before it writes anything, which leaves such a
/// program nothing, not even the chance to impersonate it (a pipe server
/// can take on its client's identity only after reading from it). Linux:
/// always, the socket lives in root's /run/drover or the user's private
/// runtime folder, where nobody else can make one.
bool local_server_is_drover(socket_handle s, std::string& why);

/// The process serving local connection `s` (the engine), held so that its
/// end can be awaited after the connection closes (`drover quit` waits
/// until the engine has released the capture: the package's removal
/// relies on it). Taken while the connection keeps that process alive, so
/// it never names a later process that reuses the ID; -1 if unknown.
intptr_t hold_local_server(socket_handle s);

/// Whether the held process ended within `timeout` (false for -1);
/// releases it either way.
bool await_local_server_exit(intptr_t held, std::chrono::milliseconds timeout);

/// How an exchange on a local connection ended.
enum class exchange_end {
  closed, // the peer closed after its answer: all of it was handed on
  silent, // the peer said nothing for longer than it may
  broken, // sending or reading failed
};

/// Sends all of `data` (a request ending in a newline) and hands each
/// piece of the answer to `on_data` as it arrives, until the peer closes
/// (blocking, for the command line). `patience`: how long the peer may
/// stay silent before the exchange gives up on it; zero for a stream that
/// may idle as long as it likes. A stuck engine must not hang a command.
exchange_end exchange(socket_handle s, const std::string& data,
                      const std::function<void(std::string_view)>& on_data,
                      std::chrono::milliseconds patience);

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
