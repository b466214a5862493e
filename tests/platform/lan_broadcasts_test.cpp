// The subnets' broadcasts as Windows' capture keeps them: published by the
// guard when the networks change, read by the receive thread's copy only
// when they did.

#include <gtest/gtest.h>

#include "actors/platform/lan_broadcasts.hpp"

using drover::net::ipv4_address;
using drover::platform::lan_broadcasts;
using drover::platform::lan_broadcasts_view;

namespace {

ipv4_address a(uint32_t v) {
  return ipv4_address{v};
}

} // namespace

TEST(lan_broadcasts, a_change_is_told_and_the_same_list_again_is_not) {
  lan_broadcasts l;
  EXPECT_FALSE(l.publish({})) << "empty at first";
  EXPECT_TRUE(l.publish({a(0xC0A801FF), a(0x0A0000FF)}));
  // The same addresses in another order, one twice: no change.
  EXPECT_FALSE(l.publish({a(0x0A0000FF), a(0xC0A801FF), a(0x0A0000FF)}));
  auto now = l.current();
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].value, 0x0A0000FFu);
  EXPECT_EQ(now[1].value, 0xC0A801FFu);
  EXPECT_TRUE(l.publish({a(0x0A0000FF)})); // a network left
  EXPECT_EQ(l.current().size(), 1u);
}

TEST(lan_broadcasts, the_view_follows_what_is_published) {
  lan_broadcasts l;
  lan_broadcasts_view v;
  EXPECT_FALSE(v.contains(0xC0A801FF)) << "nothing watched yet";
  v.watch(&l);
  EXPECT_FALSE(v.contains(0xC0A801FF));
  l.publish({a(0xC0A801FF)});
  EXPECT_TRUE(v.contains(0xC0A801FF));
  EXPECT_FALSE(v.contains(0xC0A80101)) << "a host of that network";
  l.publish({a(0x0A0100FF)}); // another network joined, the first left
  EXPECT_FALSE(v.contains(0xC0A801FF));
  EXPECT_TRUE(v.contains(0x0A0100FF));
}

TEST(lan_broadcasts, the_copy_is_taken_only_when_the_list_changed) {
  lan_broadcasts l;
  l.publish({a(0xC0A801FF)});
  std::vector<uint32_t> copy;
  uint64_t seen = ~uint64_t{0};
  l.refresh(copy, seen);
  EXPECT_EQ(copy, (std::vector<uint32_t>{0xC0A801FF}));
  copy.clear();
  l.refresh(copy, seen);
  EXPECT_TRUE(copy.empty()) << "unchanged: not copied again";
  l.publish({a(0xC0A801FF)});
  l.refresh(copy, seen);
  EXPECT_TRUE(copy.empty()) << "published again, the same: not copied";
}
