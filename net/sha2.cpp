#include "net/sha2.hpp"

#include <algorithm>
#include <cstring>

namespace drover::net {

namespace {

// The first 64 bits of the fractional parts of the cube roots of the
// first 80 primes (FIPS 180-4 §4.2.3); SHA-256's are their upper halves
// (§4.2.2).
constexpr uint64_t round_constants[80]
    = {0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL,
       0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
       0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL,
       0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
       0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL,
       0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
       0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL, 0x2de92c6f592b0275ULL,
       0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
       0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL,
       0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
       0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL,
       0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
       0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL,
       0x92722c851482353bULL, 0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
       0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL,
       0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
       0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL,
       0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
       0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL,
       0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
       0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL,
       0xc67178f2e372532bULL, 0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
       0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL,
       0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
       0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL,
       0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
       0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL};

// The fractional parts of the square roots of the first 8 primes
// (§5.3.5); SHA-256 starts from their upper halves (§5.3.3).
constexpr uint64_t initial_hash[8]
    = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
       0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
       0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

template<class Word>
Word rotr(Word x, int n) {
  return static_cast<Word>(x >> n
                           | x << (8 * sizeof(Word) - static_cast<size_t>(n)));
}

template<class Word>
Word load_be(const uint8_t* p) {
  Word v = 0;
  for (size_t i = 0; i < sizeof(Word); ++i)
    v = static_cast<Word>(v << 8 | p[i]);
  return v;
}

void store_be(uint64_t v, uint8_t* p, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
}

// What differs between the word sizes: the rounds, Σ0, Σ1, σ0, σ1, the
// constants and the start (§4.1.2, §4.1.3, §4.2, §5.3).
template<class Word>
struct functions;

template<>
struct functions<uint32_t> {
  static constexpr size_t rounds = 64;
  static uint32_t sum0(uint32_t x) {
    return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
  }
  static uint32_t sum1(uint32_t x) {
    return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
  }
  static uint32_t sigma0(uint32_t x) {
    return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3);
  }
  static uint32_t sigma1(uint32_t x) {
    return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10);
  }
  static uint32_t k(size_t t) {
    return static_cast<uint32_t>(round_constants[t] >> 32);
  }
  static uint32_t h0(size_t i) {
    return static_cast<uint32_t>(initial_hash[i] >> 32);
  }
};

template<>
struct functions<uint64_t> {
  static constexpr size_t rounds = 80;
  static uint64_t sum0(uint64_t x) {
    return rotr(x, 28) ^ rotr(x, 34) ^ rotr(x, 39);
  }
  static uint64_t sum1(uint64_t x) {
    return rotr(x, 14) ^ rotr(x, 18) ^ rotr(x, 41);
  }
  static uint64_t sigma0(uint64_t x) {
    return rotr(x, 1) ^ rotr(x, 8) ^ (x >> 7);
  }
  static uint64_t sigma1(uint64_t x) {
    return rotr(x, 19) ^ rotr(x, 61) ^ (x >> 6);
  }
  static uint64_t k(size_t t) { return round_constants[t]; }
  static uint64_t h0(size_t i) { return initial_hash[i]; }
};

} // namespace

template<class Word>
sha2_hasher<Word>::sha2_hasher() {
  for (size_t i = 0; i < 8; ++i)
    h_[i] = functions<Word>::h0(i);
}

// One block (§6.2.2, §6.4.2): the message schedule, then the rounds.
template<class Word>
void sha2_hasher<Word>::block(const uint8_t* p) {
  using F = functions<Word>;
  Word w[F::rounds];
  for (size_t t = 0; t < 16; ++t)
    w[t] = load_be<Word>(p + sizeof(Word) * t);
  for (size_t t = 16; t < F::rounds; ++t)
    w[t] = F::sigma1(w[t - 2]) + w[t - 7] + F::sigma0(w[t - 15]) + w[t - 16];
  std::array<Word, 8> v = h_; // a, b, c, d, e, f, g, h
  for (size_t t = 0; t < F::rounds; ++t) {
    Word t1 = v[7] + F::sum1(v[4]) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + F::k(t)
              + w[t];
    Word t2 = F::sum0(v[0]) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
    for (size_t i = 7; i > 0; --i)
      v[i] = v[i - 1];
    v[4] += t1; // e = d + T1
    v[0] = t1 + t2;
  }
  for (size_t i = 0; i < 8; ++i)
    h_[i] += v[i];
}

template<class Word>
void sha2_hasher<Word>::add(const void* data, size_t size) {
  auto* p = static_cast<const uint8_t*>(data);
  length_ += size;
  if (buffered_ > 0) {
    size_t take = std::min(size, block_size - buffered_);
    std::memcpy(buffer_.data() + buffered_, p, take);
    buffered_ += take;
    p += take;
    size -= take;
    if (buffered_ < block_size)
      return;
    block(buffer_.data());
    buffered_ = 0;
  }
  for (; size >= block_size; p += block_size, size -= block_size)
    block(p);
  std::memcpy(buffer_.data(), p, size);
  buffered_ = size;
}

// Padding (§5.1): 0x80, zeros, and the length in bits in the block's last
// 2 words (a 128-bit length for SHA-512, whose upper half is zero here).
template<class Word>
typename sha2_hasher<Word>::digest sha2_hasher<Word>::finish() {
  constexpr size_t length_bytes = 2 * sizeof(Word);
  constexpr size_t end = block_size - length_bytes;
  uint64_t bits = length_ * 8;
  uint8_t pad[2 * block_size] = {0x80};
  size_t pad_size = (buffered_ < end ? end : end + block_size) - buffered_;
  store_be(bits, pad + pad_size + length_bytes - 8, 8);
  add(pad, pad_size + length_bytes);
  digest out;
  for (size_t i = 0; i < 8; ++i)
    store_be(h_[i], out.data() + sizeof(Word) * i, sizeof(Word));
  return out;
}

template class sha2_hasher<uint32_t>;
template class sha2_hasher<uint64_t>;

sha256_digest sha256(std::string_view data) {
  sha256_hasher h;
  h.add(data);
  return h.finish();
}

sha512_digest sha512(std::string_view data) {
  sha512_hasher h;
  h.add(data);
  return h.finish();
}

std::string to_hex(const uint8_t* data, size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

bool from_hex(std::string_view text, uint8_t* out, size_t size) {
  if (text.size() != 2 * size)
    return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

} // namespace drover::net
