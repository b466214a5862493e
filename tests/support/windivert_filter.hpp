#pragma once

// WinDivert 2.2's filter language, as its documentation gives it (the
// reference's "Filter Language" section), for the tests: a filter is
// compiled for a layer as the driver's user-mode compiler does (fields
// the layer has, operators, values, at most 256 tests), with the
// compiler's words for what it refuses, and evaluated against a packet or
// a socket event. The test double of WinDivert.dll refuses with error 87
// what this refuses; the tests pin what WinDivert 2.2.2's own compiler was
// seen to do with Drover's filters. Pure C++, no Windows headers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover::test::windivert_filter {

enum class layer : uint8_t { network, network_forward, flow, socket, reflect };

/// WinDivert's limits (windivert.h, WINDIVERT_FILTER_MAXLEN and the
/// helper's token bounds).
constexpr size_t max_tests = 256;
constexpr size_t max_token_length = 40;

/// What a NETWORK-layer filter is evaluated against: the packet as
/// WinDivert hands it over (IPv4 or IPv6, from its first byte) and the
/// address's flags.
struct packet_context {
  std::string_view packet;
  bool outbound = true;
  bool loopback = false;
  bool impostor = false;
  uint32_t if_idx = 0;
  uint32_t sub_if_idx = 0;
};

/// What a FLOW or SOCKET filter is evaluated against. Addresses are
/// IPv6 or IPv4-mapped (::ffff:a.b.c.d), as WinDivert gives them.
struct socket_context {
  uint8_t event = 0; // WINDIVERT_EVENT_*
  uint32_t process_id = 0;
  uint64_t endpoint_id = 0;
  uint64_t parent_endpoint_id = 0;
  bool outbound = true;
  bool loopback = false;
  bool ipv6 = false;
  uint8_t protocol = 6;
  std::array<uint8_t, 16> local_addr{};
  std::array<uint8_t, 16> remote_addr{};
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
};

/// An IPv4 address as WinDivert's FLOW/SOCKET layers carry it.
std::array<uint8_t, 16> mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d);

struct node;

class filter {
public:
  /// Compiles `text` for `l`; nothing, with `error` (WinDivert's words:
  /// "bad token", "bad token for layer", "parse error", "too long",
  /// "too deep") and `error_at` (a byte offset), when WinDivert would
  /// refuse it.
  static std::optional<filter> compile(std::string_view text, layer l,
                                       std::string& error, size_t& error_at);

  /// How many tests (compiled instructions) it has.
  size_t tests() const { return tests_; }

  bool matches(const packet_context& p) const;
  bool matches(const socket_context& s) const;

  filter(filter&&) noexcept;
  filter& operator=(filter&&) noexcept;
  ~filter();

private:
  filter() = default;
  std::unique_ptr<node> root_;
  size_t tests_ = 0;
};

} // namespace drover::test::windivert_filter
