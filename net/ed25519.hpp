#pragma once

// Ed25519 signature verification (RFC 8032 §5.1.7), for updates: a
// release's SHA256SUMS is signed with the release key, whose public half
// is built into Drover (docs/updates.md). Only verification: signing is
// the release script's (OpenSSL). Variable time, which is fine for public
// inputs. Pure code; checked against RFC 8032's test vectors and against
// signatures OpenSSL makes in the tests.

#include <array>
#include <cstdint>
#include <string_view>

namespace drover::net {

using ed25519_public_key = std::array<uint8_t, 32>;
using ed25519_signature = std::array<uint8_t, 64>;

/// Whether `signature` is `key`'s over `message`. A key or signature that
/// does not decode (a point off the curve, S not below the group order)
/// is false.
bool ed25519_verify(const ed25519_signature& signature,
                    std::string_view message, const ed25519_public_key& key);

} // namespace drover::net
