#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "net/bytes.hpp"
#include "net/checksum.hpp"

using namespace drover::net;

TEST(checksum, rfc1071_example) {
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(fold(sum_bytes(data, sizeof data)), 0xddf2);
  EXPECT_EQ(finish(sum_bytes(data, sizeof data)), 0x220d);
}

TEST(checksum, odd_length_pads_with_zero) {
  const uint8_t odd[] = {0x12, 0x34, 0x56};
  const uint8_t even[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(fold(sum_bytes(odd, 3)), fold(sum_bytes(even, 4)));
}

TEST(checksum, large_buffers_fold_correctly) {
  std::vector<uint8_t> ones(65535, 0xff);
  // 32767 words of 0xffff plus 0xff00: one's complement sum is 0xff00.
  EXPECT_EQ(fold(sum_bytes(ones.data(), ones.size())), 0xff00);
}

// RFC 1624: updating a stored checksum for a changed word must equal
// recomputing it, for any data and any change (including the 0x0000/0xffff
// corner cases of one's complement).
TEST(checksum, incremental_updates_equal_recomputation) {
  std::mt19937 rng{12345};
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> data(2 * (2 + rng() % 40));
    for (auto& b : data)
      b = static_cast<uint8_t>(byte(rng));
    if (round % 7 == 0)
      std::fill(data.begin(), data.end(), round % 14 == 0 ? 0x00 : 0xff);
    auto field = finish(sum_bytes(data.data(), data.size()));
    size_t at = 2 * (rng() % (data.size() / 2 - 1));
    if (round % 2 == 0) {
      auto old_word = load16(data.data() + at);
      auto new_word = static_cast<uint16_t>(rng());
      store16(data.data() + at, new_word);
      field = update16(field, old_word, new_word);
    } else {
      auto old_value = load32(data.data() + at);
      auto new_value = static_cast<uint32_t>(rng());
      store32(data.data() + at, new_value);
      field = update32(field, old_value, new_value);
    }
    // Verification: the sum over data plus the field folds to 0xffff, the
    // same test a receiver makes.
    auto check = fold(sum_bytes(data.data(), data.size()) + field);
    EXPECT_EQ(check, 0xffff) << "round " << round;
  }
}

TEST(checksum, partial_updates_track_the_pseudo_header) {
  std::mt19937 rng{7};
  for (int round = 0; round < 1000; ++round) {
    uint32_t src = static_cast<uint32_t>(rng());
    uint32_t dst = static_cast<uint32_t>(rng());
    uint32_t new_src = static_cast<uint32_t>(rng());
    auto len = static_cast<uint16_t>(rng());
    auto field = fold(pseudo_header_sum(src, dst, 6, len));
    field = update_partial32(field, src, new_src);
    // Compare as one's complement values: 0x0000 and 0xffff are both zero.
    auto want = fold(pseudo_header_sum(new_src, dst, 6, len));
    EXPECT_EQ(field == 0xffff ? 0 : field, want == 0xffff ? 0 : want)
        << "round " << round;
  }
}
