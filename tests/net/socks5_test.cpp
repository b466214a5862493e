#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/socks5.hpp"

using namespace drover::net;
using namespace drover::net::socks5;
using bytes = std::vector<uint8_t>;

namespace {

bytes encoded(size_t (*fn)(uint8_t*, size_t, bool), bool flag) {
  bytes out(64);
  out.resize(fn(out.data(), out.size(), flag));
  return out;
}

address v4(const char* ip, uint16_t port) {
  return address::from_ipv4(*parse_ipv4(ip), port);
}

} // namespace

TEST(socks5_encode, greeting) {
  EXPECT_EQ(encoded(encode_greeting, false), (bytes{5, 1, 0}));
  EXPECT_EQ(encoded(encode_greeting, true), (bytes{5, 2, 0, 2}));
  uint8_t tiny[3];
  EXPECT_EQ(encode_greeting(tiny, 3, true), 0u);
}

TEST(socks5_encode, username_password) {
  bytes out(600);
  auto n = encode_auth(out.data(), out.size(), "alice", "pw");
  out.resize(n);
  EXPECT_EQ(out, (bytes{1, 5, 'a', 'l', 'i', 'c', 'e', 2, 'p', 'w'}));
  bytes big(600);
  EXPECT_EQ(encode_auth(big.data(), big.size(), std::string(256, 'u'), "p"),
            0u);
  EXPECT_EQ(encode_auth(big.data(), big.size(), "u", std::string(256, 'p')),
            0u);
  EXPECT_EQ(encode_auth(big.data(), big.size(), "", "p"), 0u);
  EXPECT_EQ(encode_auth(big.data(), big.size(), std::string(255, 'u'),
                        std::string(255, 'p')),
            513u);
}

TEST(socks5_encode, requests_for_each_address_type) {
  bytes out(300);
  auto n = encode_request(out.data(), out.size(), command::connect,
                          v4("192.0.2.1", 443));
  EXPECT_EQ(bytes(out.begin(), out.begin() + static_cast<long>(n)),
            (bytes{5, 1, 0, 1, 192, 0, 2, 1, 0x01, 0xbb}));
  address d;
  ASSERT_TRUE(address::from_domain("discord.com", 443, d));
  n = encode_request(out.data(), out.size(), command::udp_associate, d);
  bytes want{5, 3, 0, 3, 11};
  for (char c : std::string{"discord.com"})
    want.push_back(static_cast<uint8_t>(c));
  want.push_back(0x01);
  want.push_back(0xbb);
  EXPECT_EQ(bytes(out.begin(), out.begin() + static_cast<long>(n)), want);
  address v6;
  v6.type = address_type::ipv6;
  v6.ipv6[15] = 1;
  v6.port = 80;
  EXPECT_EQ(encode_request(out.data(), out.size(), command::connect, v6),
            3u + 1 + 16 + 2);
  EXPECT_EQ(encode_request(out.data(), 5, command::connect, v6), 0u);
  address bad;
  EXPECT_FALSE(address::from_domain("", 1, bad));
  EXPECT_FALSE(address::from_domain(std::string(256, 'a'), 1, bad));
}

TEST(socks5_parse, method_selection) {
  method m{};
  const uint8_t no_auth[] = {5, 0};
  EXPECT_EQ(parse_method_selection(no_auth, 1, false, m).result,
            parse_status::state::need_more);
  auto s = parse_method_selection(no_auth, 2, false, m);
  ASSERT_TRUE(s.done());
  EXPECT_EQ(s.consumed, 2u);
  EXPECT_EQ(m, method::no_auth);
  const uint8_t userpass[] = {5, 2};
  EXPECT_TRUE(parse_method_selection(userpass, 2, true, m).done());
  EXPECT_EQ(m, method::username_password);
  EXPECT_EQ(parse_method_selection(userpass, 2, false, m).err,
            error::unexpected_method);
  const uint8_t gssapi[] = {5, 1};
  EXPECT_EQ(parse_method_selection(gssapi, 2, true, m).err,
            error::unexpected_method);
  const uint8_t none[] = {5, 0xff};
  EXPECT_EQ(parse_method_selection(none, 2, true, m).err,
            error::no_acceptable_method);
  const uint8_t http[] = {'H', 'T'};
  EXPECT_EQ(parse_method_selection(http, 1, false, m).err, error::not_socks5)
      << "a wrong version fails as soon as the first byte arrives";
}

TEST(socks5_parse, auth_reply) {
  const uint8_t ok[] = {1, 0};
  const uint8_t rejected[] = {1, 1};
  const uint8_t wrong[] = {5, 0};
  EXPECT_EQ(parse_auth_reply(ok, 1).result, parse_status::state::need_more);
  EXPECT_TRUE(parse_auth_reply(ok, 2).done());
  EXPECT_EQ(parse_auth_reply(rejected, 2).err, error::auth_rejected);
  EXPECT_EQ(parse_auth_reply(wrong, 2).err, error::bad_auth_version);
  EXPECT_NE(std::string{message(error::auth_rejected)}.find(
                "authentication rejected"),
            std::string::npos);
}

TEST(socks5_parse, reply_arrives_a_byte_at_a_time) {
  // dante's reply to UDP ASSOCIATE: BND 10.200.0.2:40123, then pipelined
  // bytes that belong to the next message.
  bytes reply{5, 0, 0, 1, 10, 200, 0, 2, 0x9c, 0xbb, 0xaa, 0xbb};
  const size_t message_length = 10;
  for (size_t len = 0; len < message_length; ++len) {
    address a;
    auto s = parse_reply(reply.data(), len, a);
    ASSERT_EQ(s.result, parse_status::state::need_more) << len;
    EXPECT_GT(s.needed, len);
    EXPECT_LE(s.needed, message_length);
  }
  address a;
  auto s = parse_reply(reply.data(), reply.size(), a);
  ASSERT_TRUE(s.done());
  EXPECT_EQ(s.consumed, message_length);
  EXPECT_EQ(a.type, address_type::ipv4);
  EXPECT_EQ(to_string(a.ipv4), "10.200.0.2");
  EXPECT_EQ(a.port, 40123);
}

TEST(socks5_parse, reply_with_domain_and_ipv6) {
  bytes domain{5, 0, 0, 3, 4, 'r', 'e', 'l', 'y', 0x04, 0x38};
  address a;
  auto s = parse_reply(domain.data(), domain.size(), a);
  ASSERT_TRUE(s.done());
  EXPECT_EQ(a.domain_name(), "rely");
  EXPECT_EQ(a.port, 1080);
  bytes v6{5, 0, 0, 4};
  v6.resize(4 + 16, 0);
  v6.push_back(0);
  v6.push_back(53);
  s = parse_reply(v6.data(), v6.size() - 1, a);
  EXPECT_EQ(s.result, parse_status::state::need_more);
  s = parse_reply(v6.data(), v6.size(), a);
  ASSERT_TRUE(s.done());
  EXPECT_EQ(a.type, address_type::ipv6);
  EXPECT_EQ(a.port, 53);
}

TEST(socks5_parse, every_reply_code_is_a_distinct_readable_error) {
  std::set<std::string> messages;
  for (uint8_t code = 1; code <= 9; ++code) {
    bytes reply{5, code, 0, 1, 0, 0, 0, 0, 0, 0};
    address a;
    auto s = parse_reply(reply.data(), 2, a);
    ASSERT_TRUE(s.failed()) << int{code};
    EXPECT_EQ(s.err, from_reply_code(code));
    messages.insert(message(s.err));
  }
  EXPECT_EQ(messages.size(), 9u);
  EXPECT_STREQ(message(from_reply_code(2)),
               "proxy refused: connection not allowed by ruleset");
  EXPECT_NE(std::string{message(from_reply_code(7))}.find("UDP ASSOCIATE"),
            std::string::npos);
}

TEST(socks5_parse, a_lying_proxy_gets_an_error) {
  address a;
  bytes wrong_version{4, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(parse_reply(wrong_version.data(), 1, a).err, error::not_socks5);
  bytes bad_atyp{5, 0, 0, 9, 1, 2, 3, 4, 0, 80};
  EXPECT_EQ(parse_reply(bad_atyp.data(), bad_atyp.size(), a).err,
            error::bad_address_type);
  bytes empty_domain{5, 0, 0, 3, 0, 0, 80};
  EXPECT_EQ(parse_reply(empty_domain.data(), empty_domain.size(), a).err,
            error::bad_domain_length);
  // A domain length claiming more than was sent waits for more, and the
  // most it can ask for is 3 + 1 + 1 + 255 + 2 bytes.
  bytes long_domain{5, 0, 0, 3, 255, 'x'};
  auto s = parse_reply(long_domain.data(), long_domain.size(), a);
  EXPECT_EQ(s.result, parse_status::state::need_more);
  EXPECT_EQ(s.needed, 3u + 1 + 1 + 255 + 2);
  std::set<std::string> all;
  for (int e = 0; e <= static_cast<int>(error::truncated_datagram); ++e)
    all.insert(message(static_cast<error>(e)));
  EXPECT_EQ(all.size(), static_cast<size_t>(error::truncated_datagram) + 1)
      << "every error has its own message";
}

TEST(socks5_relay, unspecified_bound_address_means_the_proxy) {
  auto proxy = *parse_ipv4("203.0.113.5");
  auto r = relay_address(v4("0.0.0.0", 40000), proxy);
  EXPECT_EQ(r.ipv4, proxy);
  EXPECT_EQ(r.port, 40000);
  auto kept = relay_address(v4("198.51.100.7", 40000), proxy);
  EXPECT_EQ(to_string(kept.ipv4), "198.51.100.7");
  address v6;
  v6.type = address_type::ipv6;
  v6.port = 9;
  EXPECT_EQ(relay_address(v6, proxy).ipv4, proxy);
}

TEST(socks5_udp, header_round_trip) {
  bytes buf(64);
  auto dst = v4("162.159.130.234", 50001);
  auto n = write_udp_header(buf.data(), buf.size(), dst);
  ASSERT_EQ(n, 10u);
  EXPECT_EQ(n, udp_header_size(dst));
  EXPECT_EQ(bytes(buf.begin(), buf.begin() + 10),
            (bytes{0, 0, 0, 1, 162, 159, 130, 234, 0xc3, 0x51}));
  buf.resize(n + 3, 'v');
  udp_datagram d;
  ASSERT_EQ(parse_udp_datagram(buf.data(), buf.size(), d), error::none);
  EXPECT_EQ(d.payload_offset, 10u);
  EXPECT_EQ(d.from.ipv4, dst.ipv4);
  EXPECT_EQ(d.from.port, 50001);
  address name;
  ASSERT_TRUE(address::from_domain("stun.example", 3478, name));
  bytes b2(64);
  auto n2 = write_udp_header(b2.data(), b2.size(), name);
  EXPECT_EQ(n2, 3u + 1 + 1 + 12 + 2);
  ASSERT_EQ(parse_udp_datagram(b2.data(), n2, d), error::none);
  EXPECT_EQ(d.from.domain_name(), "stun.example");
  EXPECT_EQ(write_udp_header(b2.data(), 9, dst), 0u);
}

TEST(socks5_udp, fragments_and_truncation_are_refused) {
  bytes frag{0, 0, 1, 1, 1, 2, 3, 4, 0, 80, 'x'};
  udp_datagram d;
  EXPECT_EQ(parse_udp_datagram(frag.data(), frag.size(), d), error::fragmented);
  bytes good{0, 0, 0, 1, 1, 2, 3, 4, 0, 80};
  for (size_t len = 0; len < good.size(); ++len)
    EXPECT_EQ(parse_udp_datagram(good.data(), len, d),
              error::truncated_datagram)
        << len;
  EXPECT_EQ(parse_udp_datagram(good.data(), good.size(), d), error::none);
  EXPECT_EQ(d.payload_offset, good.size()) << "an empty payload is fine";
  bytes bad_type{0, 0, 0, 7, 1, 2, 3, 4, 0, 80};
  EXPECT_EQ(parse_udp_datagram(bad_type.data(), bad_type.size(), d),
            error::bad_address_type);
}
