#pragma once

// What an update checks before anything runs (docs/updates.md): the
// release's version against this one, and its SHA256SUMS, signed with the
// release key (Ed25519), naming the digest of the file downloaded. A
// release server, or anyone between it and the user, is hostile until
// this says otherwise. Pure code, fuzzed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/ed25519.hpp"
#include "net/sha2.hpp"

namespace drover::net::release {

/// A release's number: MAJOR.MINOR.PATCH (a missing PATCH is 0).
struct version {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t patch = 0;
  std::string text() const;
  bool operator<(const version& o) const;
  bool operator==(const version& o) const;
};

/// A tag or version as releases name them: "v1.2.3", "1.2.3", "1.2". A
/// pre-release ("1.3.0-rc1") or anything else is nothing: updates go to
/// releases only.
std::optional<version> parse_version(std::string_view text);

/// The installer for Windows x64 that a release of `v` carries, as the
/// release script names it (cmake/WindowsPackage.cmake).
std::string windows_installer_name(const version& v);

/// The Debian package of `v` (cmake/LinuxPackage.cmake).
std::string debian_package_name(const version& v);

/// The release's checksum list (sha256sum's output) and its signature
/// (the release script's SHA256SUMS.sig: 128 hexadecimal digits).
constexpr size_t max_sums_size = 16 * 1024;
constexpr size_t max_signature_size = 256;

struct sums_entry {
  std::string name;
  sha256_digest digest;
};

/// The lines of a SHA256SUMS ("<64 hex>  <name>", or " *<name>" for
/// binary mode); nothing, with `error` naming the line, when one is not.
std::optional<std::vector<sums_entry>> parse_sums(std::string_view text,
                                                  std::string& error);

/// Whether `signature_text` is `key`'s signature over `sums` exactly.
/// `error` says what is wrong otherwise.
bool verify_sums(std::string_view sums, std::string_view signature_text,
                 const ed25519_public_key& key, std::string& error);

/// The digest the signed list gives `name`: nothing when it names no such
/// file (`error` says so).
std::optional<sha256_digest> digest_for(const std::vector<sums_entry>& sums,
                                        std::string_view name,
                                        std::string& error);

/// The release key's public half in hexadecimal (64 digits) as bytes.
std::optional<ed25519_public_key> parse_public_key(std::string_view hex);

} // namespace drover::net::release
