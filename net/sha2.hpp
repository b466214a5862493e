#pragma once

// SHA-256 and SHA-512 (FIPS 180-4), for updates: a release's list of
// SHA-256 digests and the installer it names are checked here, and
// Ed25519 (net/ed25519) hashes with SHA-512. Pure code, no OS; the digests
// are checked against the system's sha256sum/sha512sum in the tests.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace drover::net {

/// SHA-256 (Word = uint32_t) and SHA-512 (uint64_t) over data given in
/// pieces (a file read in blocks): one construction, each word size with
/// its own constants and functions (FIPS 180-4 §6.2, §6.4).
template<class Word>
class sha2_hasher {
public:
  static constexpr size_t block_size = 16 * sizeof(Word);
  using digest = std::array<uint8_t, 8 * sizeof(Word)>;

  sha2_hasher();
  void add(const void* data, size_t size);
  void add(std::string_view s) { add(s.data(), s.size()); }
  /// The digest; the hasher is spent afterwards.
  digest finish();

private:
  void block(const uint8_t* p);
  std::array<Word, 8> h_;
  std::array<uint8_t, block_size> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0; // bytes; messages here are far below 2^61
};

extern template class sha2_hasher<uint32_t>;
extern template class sha2_hasher<uint64_t>;

using sha256_hasher = sha2_hasher<uint32_t>;
using sha512_hasher = sha2_hasher<uint64_t>;
using sha256_digest = sha256_hasher::digest;
using sha512_digest = sha512_hasher::digest;

sha256_digest sha256(std::string_view data);
sha512_digest sha512(std::string_view data);

/// Lower-case hexadecimal, as sha256sum prints it.
std::string to_hex(const uint8_t* data, size_t size);
template<size_t N>
std::string to_hex(const std::array<uint8_t, N>& a) {
  return to_hex(a.data(), N);
}

/// `text` (hexadecimal, either case) into exactly `size` bytes at `out`;
/// false when it is not that.
bool from_hex(std::string_view text, uint8_t* out, size_t size);

} // namespace drover::net
