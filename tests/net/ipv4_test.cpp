#include <gtest/gtest.h>

#include "net/ipv4.hpp"

using namespace drover::net;

TEST(ipv4, parses_dotted_quads_strictly) {
  EXPECT_EQ(parse_ipv4("0.0.0.0")->value, 0u);
  EXPECT_EQ(parse_ipv4("255.255.255.255")->value, 0xffffffffu);
  EXPECT_EQ(parse_ipv4("10.1.2.3")->value, 0x0a010203u);
  for (auto bad :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
        " 1.2.3.4", "1..3.4", "a.b.c.d", "1.2.3.-4", "1.2.3.4/", "1234.1.1.1"})
    EXPECT_FALSE(parse_ipv4(bad).has_value()) << '"' << bad << '"';
}

TEST(ipv4, cidrs) {
  auto c = parse_ipv4_cidr("192.168.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix_length, 16);
  EXPECT_TRUE(c->contains(*parse_ipv4("192.168.255.1")));
  EXPECT_FALSE(c->contains(*parse_ipv4("192.169.0.1")));
  EXPECT_EQ(parse_ipv4_cidr("1.2.3.4")->prefix_length, 32);
  auto all = parse_ipv4_cidr("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(*parse_ipv4("8.8.8.8")));
  for (auto bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08",
                   "/8", "10.0.0.0/8/8"})
    EXPECT_FALSE(parse_ipv4_cidr(bad).has_value()) << bad;
}

TEST(ipv4, to_string_round_trips) {
  for (auto s : {"0.0.0.0", "10.200.0.1", "255.255.255.255"})
    EXPECT_EQ(to_string(*parse_ipv4(s)), s);
  EXPECT_EQ(to_string(*parse_ipv4_cidr("172.16.0.0/12")), "172.16.0.0/12");
}
