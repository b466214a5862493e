// The Windows capture's target set: IDs added and forgotten, a copy taken
// only when it changed, names matched the way Windows compares file names.

#include <gtest/gtest.h>

#include "actors/platform/target_set.hpp"

using drover::platform::target_set;

TEST(target_set, ids_are_added_once_and_forgotten) {
  target_set t;
  t.add(42);
  t.add(7);
  t.add(42);
  EXPECT_TRUE(t.contains(42));
  EXPECT_TRUE(t.contains(7));
  t.remove(42);
  EXPECT_FALSE(t.contains(42));
  t.remove(1000); // not there: nothing changes
  EXPECT_TRUE(t.contains(7));
}

TEST(target_set, a_copy_is_taken_only_when_the_set_changed) {
  target_set t;
  std::vector<uint32_t> copy;
  uint64_t seen = ~uint64_t{0};
  t.add(9);
  t.add(3);
  t.refresh(copy, seen);
  EXPECT_EQ(copy, (std::vector<uint32_t>{3, 9})); // sorted
  copy.clear();
  t.refresh(copy, seen);
  EXPECT_TRUE(copy.empty()); // unchanged: not copied again
  t.add(3);                  // already there: no new generation
  t.refresh(copy, seen);
  EXPECT_TRUE(copy.empty());
  t.remove(9);
  t.refresh(copy, seen);
  EXPECT_EQ(copy, (std::vector<uint32_t>{3}));
}

TEST(target_set, names_match_whole_and_without_regard_to_case) {
  target_set t;
  t.set_names({"Discord.exe", "Update.exe"});
  EXPECT_TRUE(t.name_matches("discord.EXE"));
  EXPECT_TRUE(t.name_matches("UPDATE.exe"));
  EXPECT_FALSE(t.name_matches("Discord.exe.bak"));
  EXPECT_FALSE(t.name_matches("iscord.exe"));
  EXPECT_FALSE(t.name_matches(""));
}
