#include "net/ed25519.hpp"

#include <cstring>

#include "net/sha2.hpp"

// The field is GF(2^255 - 19), elements in five 51-bit limbs; points in
// extended twisted Edwards coordinates (RFC 8032 §5.1.4). Written from the
// RFC's text and its reference formulas.

namespace drover::net {

namespace {

using u64 = uint64_t;
// GCC's and Clang's 128-bit integer (mingw-w64's too), for the products.
__extension__ typedef unsigned __int128 u128;

u128 wide(u64 x) {
  return x;
}
u64 narrow(u128 x) {
  return static_cast<u64>(x);
}

constexpr u64 mask51 = (u64{1} << 51) - 1;

struct fe {
  u64 v[5];
};

fe fe_small(u64 x) {
  return fe{{x, 0, 0, 0, 0}};
}

// Brings every limb below 2^51 (plus a little in limb 0).
void carry(fe& a) {
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 4; ++i) {
      a.v[i + 1] += a.v[i] >> 51;
      a.v[i] &= mask51;
    }
    a.v[0] += 19 * (a.v[4] >> 51);
    a.v[4] &= mask51;
  }
}

fe add(const fe& a, const fe& b) {
  fe r;
  for (int i = 0; i < 5; ++i)
    r.v[i] = a.v[i] + b.v[i];
  carry(r);
  return r;
}

// a - b + 4p, so no limb goes below zero for carried inputs.
fe sub(const fe& a, const fe& b) {
  fe r;
  r.v[0] = a.v[0] + 4 * (mask51 - 18) - b.v[0];
  for (int i = 1; i < 5; ++i)
    r.v[i] = a.v[i] + 4 * mask51 - b.v[i];
  carry(r);
  return r;
}

fe mul(const fe& a, const fe& b) {
  const u64* x = a.v;
  const u64* y = b.v;
  u64 y1 = 19 * y[1], y2 = 19 * y[2], y3 = 19 * y[3], y4 = 19 * y[4];
  u128 r0 = wide(x[0]) * y[0] + wide(x[1]) * y4 + wide(x[2]) * y3
            + wide(x[3]) * y2 + wide(x[4]) * y1;
  u128 r1 = wide(x[0]) * y[1] + wide(x[1]) * y[0] + wide(x[2]) * y4
            + wide(x[3]) * y3 + wide(x[4]) * y2;
  u128 r2 = wide(x[0]) * y[2] + wide(x[1]) * y[1] + wide(x[2]) * y[0]
            + wide(x[3]) * y4 + wide(x[4]) * y3;
  u128 r3 = wide(x[0]) * y[3] + wide(x[1]) * y[2] + wide(x[2]) * y[1]
            + wide(x[3]) * y[0] + wide(x[4]) * y4;
  u128 r4 = wide(x[0]) * y[4] + wide(x[1]) * y[3] + wide(x[2]) * y[2]
            + wide(x[3]) * y[1] + wide(x[4]) * y[0];
  r1 += narrow(r0 >> 51);
  r2 += narrow(r1 >> 51);
  r3 += narrow(r2 >> 51);
  r4 += narrow(r3 >> 51);
  fe r{{narrow(r0) & mask51, narrow(r1) & mask51, narrow(r2) & mask51,
        narrow(r3) & mask51, narrow(r4) & mask51}};
  r.v[0] += 19 * narrow(r4 >> 51);
  carry(r);
  return r;
}

fe square(const fe& a) {
  return mul(a, a);
}

// a^(2^n)
fe square_times(fe a, int n) {
  for (int i = 0; i < n; ++i)
    a = square(a);
  return a;
}

// a^(2^250 - 1), the common part of inversion and the square root.
fe pow_2_250_minus_1(const fe& a, fe& a_11) {
  fe a2 = square(a);
  fe a9 = mul(square_times(a2, 2), a);
  a_11 = mul(a9, a2);
  fe a_2_5_1 = mul(square(a_11), a9);                       // 2^5 - 1
  fe a_2_10_1 = mul(square_times(a_2_5_1, 5), a_2_5_1);     // 2^10 - 1
  fe a_2_20_1 = mul(square_times(a_2_10_1, 10), a_2_10_1);  // 2^20 - 1
  fe a_2_40_1 = mul(square_times(a_2_20_1, 20), a_2_20_1);  // 2^40 - 1
  fe a_2_50_1 = mul(square_times(a_2_40_1, 10), a_2_10_1);  // 2^50 - 1
  fe a_2_100_1 = mul(square_times(a_2_50_1, 50), a_2_50_1); // 2^100 - 1
  fe a_2_200_1 = mul(square_times(a_2_100_1, 100), a_2_100_1);
  return mul(square_times(a_2_200_1, 50), a_2_50_1); // 2^250 - 1
}

// a^(p - 2) = 1/a: 2^255 - 21 = (2^250 - 1) * 2^5 + 11.
fe invert(const fe& a) {
  fe a_11;
  fe t = pow_2_250_minus_1(a, a_11);
  return mul(square_times(t, 5), a_11);
}

// a^((p - 5) / 8): (2^252 - 3) = (2^250 - 1) * 4 + 1.
fe pow_p58(const fe& a) {
  fe a_11;
  fe t = pow_2_250_minus_1(a, a_11);
  return mul(square_times(t, 2), a);
}

// The canonical value (below p) as 32 little-endian bytes.
void to_bytes(fe a, uint8_t out[32]) {
  carry(a);
  // Now a < 2^255; subtract p once if a >= p.
  bool ge_p = a.v[0] >= mask51 - 18 && a.v[1] == mask51 && a.v[2] == mask51
              && a.v[3] == mask51 && a.v[4] == mask51;
  if (ge_p) {
    a.v[0] -= mask51 - 18;
    a.v[1] = a.v[2] = a.v[3] = a.v[4] = 0;
  }
  std::memset(out, 0, 32);
  for (int bit = 0; bit < 255; ++bit)
    if (a.v[bit / 51] >> (bit % 51) & 1)
      out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
}

// 255 bits from 32 little-endian bytes (the top bit is not read); false
// when the value is not below p (a non-canonical encoding).
bool from_bytes(const uint8_t in[32], fe& out) {
  out = fe{{0, 0, 0, 0, 0}};
  for (int bit = 0; bit < 255; ++bit)
    if (in[bit / 8] >> (bit % 8) & 1)
      out.v[bit / 51] |= u64{1} << (bit % 51);
  uint8_t again[32];
  to_bytes(out, again);
  again[31] |= in[31] & 0x80;
  return std::memcmp(again, in, 32) == 0;
}

bool is_zero(const fe& a) {
  uint8_t b[32];
  to_bytes(a, b);
  uint8_t any = 0;
  for (uint8_t x : b)
    any |= x;
  return any == 0;
}

bool equal(const fe& a, const fe& b) {
  return is_zero(sub(a, b));
}

bool is_odd(const fe& a) {
  uint8_t b[32];
  to_bytes(a, b);
  return b[0] & 1;
}

fe negate(const fe& a) {
  return sub(fe_small(0), a);
}

struct constants {
  fe d;       // -121665 / 121666
  fe d2;      // 2d
  fe sqrt_m1; // 2^((p - 1) / 4), a square root of -1
};

const constants& curve() {
  static const constants c = [] {
    constants k;
    k.d = mul(negate(fe_small(121665)), invert(fe_small(121666)));
    k.d2 = add(k.d, k.d);
    // 2^((p-1)/4) = 2^(2^253 - 5) = (2^((p-5)/8))^2 * 2: (p-1)/4 =
    // 2 * (p-5)/8 + 1.
    fe two = fe_small(2);
    k.sqrt_m1 = mul(square(pow_p58(two)), two);
    return k;
  }();
  return c;
}

struct point {
  fe x, y, z, t;
};

point identity() {
  return {fe_small(0), fe_small(1), fe_small(1), fe_small(0)};
}

// RFC 8032 §5.1.4's addition; complete, so it also doubles.
point add(const point& p, const point& q) {
  fe a = mul(sub(p.y, p.x), sub(q.y, q.x));
  fe b = mul(add(p.y, p.x), add(q.y, q.x));
  fe c = mul(mul(p.t, curve().d2), q.t);
  fe d = mul(add(p.z, p.z), q.z);
  fe e = sub(b, a), f = sub(d, c), g = add(d, c), h = add(b, a);
  return {mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

point negate(const point& p) {
  return {negate(p.x), p.y, p.z, negate(p.t)};
}

// [s]P, s little-endian; double and add, from the top bit.
point scalar_multiply(const uint8_t s[32], const point& p) {
  point r = identity();
  for (int bit = 255; bit >= 0; --bit) {
    r = add(r, r);
    if (s[bit / 8] >> (bit % 8) & 1)
      r = add(r, p);
  }
  return r;
}

void encode(const point& p, uint8_t out[32]) {
  fe zi = invert(p.z);
  fe x = mul(p.x, zi), y = mul(p.y, zi);
  to_bytes(y, out);
  if (is_odd(x))
    out[31] |= 0x80;
}

// RFC 8032 §5.1.3.
bool decode(const uint8_t in[32], point& out) {
  fe y;
  if (!from_bytes(in, y))
    return false;
  bool x_odd = in[31] >> 7;
  fe one = fe_small(1);
  fe yy = square(y);
  fe u = sub(yy, one);
  fe v = add(mul(curve().d, yy), one);
  // x = u v^3 (u v^7)^((p-5)/8)
  fe v3 = mul(square(v), v);
  fe x = mul(mul(u, v3), pow_p58(mul(u, mul(square(v3), v))));
  fe vxx = mul(v, square(x));
  if (!equal(vxx, u)) {
    if (!equal(vxx, negate(u)))
      return false;
    x = mul(x, curve().sqrt_m1);
  }
  if (is_zero(x) && x_odd)
    return false;
  if (is_odd(x) != x_odd)
    x = negate(x);
  out = {x, y, one, mul(x, y)};
  return true;
}

// The group order L = 2^252 + 27742317777372353535851937790883648493, as
// four little-endian 64-bit words.
constexpr u64 order[4]
    = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};

bool below_order(const u64 s[4]) {
  for (int i = 3; i >= 0; --i) {
    if (s[i] != order[i])
      return s[i] < order[i];
  }
  return false;
}

void load_words(const uint8_t* in, size_t words, u64* out) {
  for (size_t i = 0; i < words; ++i) {
    out[i] = 0;
    for (size_t b = 8; b-- > 0;)
      out[i] = out[i] << 8 | in[8 * i + b];
  }
}

// A 512-bit little-endian number mod L, as 32 bytes: shift in one bit at
// a time and subtract L whenever the remainder reaches it (it stays below
// 2L < 2^254, so four words hold it).
void reduce_512(const uint8_t in[64], uint8_t out[32]) {
  u64 r[4] = {0, 0, 0, 0};
  for (int bit = 511; bit >= 0; --bit) {
    for (int i = 3; i > 0; --i)
      r[i] = r[i] << 1 | r[i - 1] >> 63;
    r[0] = r[0] << 1 | (in[bit / 8] >> (bit % 8) & 1);
    if (!below_order(r)) {
      u64 borrow = 0;
      for (int i = 0; i < 4; ++i) {
        u128 d = wide(r[i]) - order[i] - borrow;
        r[i] = narrow(d);
        borrow = narrow(d >> 64) & 1;
      }
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int b = 0; b < 8; ++b)
      out[8 * i + b] = static_cast<uint8_t>(r[i] >> (8 * b));
}

const point& base_point() {
  // y = 4/5, x even: 0x5866...66 little-endian.
  static const point b = [] {
    uint8_t enc[32];
    std::memset(enc, 0x66, 32);
    enc[0] = 0x58;
    point p;
    decode(enc, p);
    return p;
  }();
  return b;
}

} // namespace

bool ed25519_verify(const ed25519_signature& signature,
                    std::string_view message, const ed25519_public_key& key) {
  const uint8_t* r_bytes = signature.data();
  const uint8_t* s_bytes = signature.data() + 32;
  u64 s_words[4];
  load_words(s_bytes, 4, s_words);
  if (!below_order(s_words))
    return false;
  point a, r;
  if (!decode(key.data(), a) || !decode(r_bytes, r))
    return false;
  sha512_hasher h;
  h.add(r_bytes, 32);
  h.add(key.data(), 32);
  h.add(message);
  sha512_digest digest = h.finish();
  uint8_t k[32];
  reduce_512(digest.data(), k);
  // [S]B - [k]A must be R (as encoded: the signature's own bytes).
  point check = add(scalar_multiply(s_bytes, base_point()),
                    negate(scalar_multiply(k, a)));
  uint8_t encoded[32];
  encode(check, encoded);
  return std::memcmp(encoded, r_bytes, 32) == 0;
}

} // namespace drover::net
