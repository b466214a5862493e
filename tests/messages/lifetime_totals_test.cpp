// Lifetime totals: counted across the parts' runs (whose counters start at
// zero again), written and read back as stats.json, and a damaged file
// named for what is wrong.

#include <gtest/gtest.h>

#include "messages/lifetime_totals.hpp"

using namespace drover;

TEST(lifetime_totals, counts_across_runs_of_the_parts) {
  lifetime_counter c{lifetime_totals{1000, 500, "2026-01-02"}};
  EXPECT_FALSE(c.changed());
  c.observe(100, 10);
  c.observe(300, 10); // +200 in, nothing out
  EXPECT_EQ(c.totals().bytes_in, 1300u);
  EXPECT_EQ(c.totals().bytes_out, 510u);
  EXPECT_TRUE(c.changed());
  c.mark_saved();
  c.observe(300, 10);
  EXPECT_FALSE(c.changed()) << "nothing new";
  // New parts, announced: their first sample counts whole, even when it is
  // already larger than the old run's last.
  c.new_run();
  c.observe(400, 20);
  EXPECT_EQ(c.totals().bytes_in, 1700u);
  EXPECT_EQ(c.totals().bytes_out, 530u);
  // Not announced: a smaller value is a new run all the same.
  c.observe(50, 5);
  EXPECT_EQ(c.totals().bytes_in, 1750u);
  EXPECT_EQ(c.totals().bytes_out, 535u);
  EXPECT_EQ(c.totals().since, "2026-01-02");
  // Never wraps round.
  lifetime_counter full{lifetime_totals{UINT64_MAX - 1, 0, ""}};
  full.observe(10, 0);
  EXPECT_EQ(full.totals().bytes_in, UINT64_MAX);
}

TEST(lifetime_totals, stats_json_round_trips) {
  lifetime_totals t{18446744073709551615u, 42, "2026-12-04"};
  auto text = to_json(t);
  EXPECT_EQ(text, "{\"bytes_in\":18446744073709551615,\"bytes_out\":42,"
                  "\"since\":\"2026-12-04\"}\n");
  std::string error;
  auto back = lifetime_from_json(text, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, t);
  back = lifetime_from_json(" { \"since\" : \"2026-01-01\" ,\n \"bytes_out\":1,"
                            "\"bytes_in\": 2 } ",
                            error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->bytes_in, 2u);
  // A since that is not a date is written without what is not.
  EXPECT_EQ(to_json({1, 2, "2026\"-01"}),
            "{\"bytes_in\":1,\"bytes_out\":2,\"since\":\"2026-01\"}\n");
}

TEST(lifetime_totals, a_damaged_file_says_what_is_wrong) {
  struct bad {
    const char* text;
    const char* says;
  };
  for (auto [text, says] : {
           bad{"", "not a JSON object"},
           bad{"[1,2]", "not a JSON object"},
           bad{"{\"bytes_in\":1}", "bytes_out is missing"},
           bad{"{\"bytes_in\":18446744073709551616,\"bytes_out\":0}",
               "bytes_in is not a whole number up to 2^64"},
           bad{"{\"bytes_in\":-1,\"bytes_out\":0}",
               "bytes_in is not a whole number"},
           bad{"{\"bytes_in\":1,\"bytes_out\":0,\"extra\":1}",
               "unknown field \"extra\""},
           bad{"{\"bytes_in\":1,\"bytes_out\":0} trailing",
               "text after the object"},
           bad{"{\"bytes_in\":1,\"bytes_out\":0", "the object does not end"},
           bad{"{\"since\":\"a\\\"b\",\"bytes_in\":1,\"bytes_out\":0}",
               "since is not a date"},
       }) {
    std::string error;
    EXPECT_FALSE(lifetime_from_json(text, error)) << text;
    EXPECT_NE(error.find(says), std::string::npos) << text << ": " << error;
  }
}
