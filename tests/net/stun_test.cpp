#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/stun.hpp"

using namespace drover::net;
using namespace drover::net::stun;
using bytes = std::vector<uint8_t>;

namespace {

bytes from_hex(std::string hex) {
  bytes out;
  std::string digits;
  for (char c : hex)
    if (c != ' ')
      digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(
        static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

transaction_id id_of(const bytes& message) {
  transaction_id id;
  std::copy(message.begin() + 8, message.begin() + 20, id.begin());
  return id;
}

// Debian's coturn 4.6.1 (turnserver -S), answering a request from
// 10.9.9.9:37404, as captured on this machine: XOR-MAPPED-ADDRESS, then
// SOFTWARE.
const bytes coturn_reply
    = from_hex("0101 0024 2112a442 d6aaec184fc30d501dabb0f1"
               "0020 0008 0001 b30e 2b1bad4b"
               "8022 0014 436f7475726e2d342e362e312027476f72737427");

// RFC 5769 §2.2, the sample IPv4 response: SOFTWARE (padded),
// XOR-MAPPED-ADDRESS 192.0.2.1:32853, MESSAGE-INTEGRITY, FINGERPRINT.
const bytes rfc5769_reply
    = from_hex("0101 003c 2112a442 b7e7a701 bc34d686 fa87dfae"
               "8022 000b 74657374 20766563 746f7220"
               "0020 0008 0001 a147 e112a643"
               "0008 0014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"
               "8028 0004 c07d4c96");

endpoint ep(const char* ip, uint16_t port) {
  return {*parse_ipv4(ip), port};
}

} // namespace

TEST(stun, a_binding_request_is_a_bare_header) {
  transaction_id id{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  bytes out(32);
  ASSERT_EQ(encode_binding_request(out.data(), out.size(), id), 20u);
  out.resize(20);
  EXPECT_EQ(out, from_hex("0001 0000 2112a442 0102030405060708090a0b0c"));
  uint8_t small[19];
  EXPECT_EQ(encode_binding_request(small, sizeof small, id), 0u);
}

TEST(stun, coturns_reply_gives_the_mapped_address) {
  endpoint mapped;
  ASSERT_EQ(parse_binding_response(coturn_reply.data(), coturn_reply.size(),
                                   id_of(coturn_reply), mapped),
            error::none);
  EXPECT_EQ(mapped, ep("10.9.9.9", 37404));
}

TEST(stun, the_rfc_5769_sample_response_parses) {
  endpoint mapped;
  ASSERT_EQ(parse_binding_response(rfc5769_reply.data(), rfc5769_reply.size(),
                                   id_of(rfc5769_reply), mapped),
            error::none);
  EXPECT_EQ(mapped, ep("192.0.2.1", 32853));
}

TEST(stun, a_reply_to_another_request_is_refused) {
  auto id = id_of(coturn_reply);
  id[11] ^= 1;
  endpoint mapped;
  EXPECT_EQ(parse_binding_response(coturn_reply.data(), coturn_reply.size(), id,
                                   mapped),
            error::other_transaction);
}

TEST(stun, every_cut_short_reply_is_an_error) {
  for (size_t n = 0; n < coturn_reply.size(); ++n) {
    endpoint mapped;
    EXPECT_NE(parse_binding_response(coturn_reply.data(), n,
                                     id_of(coturn_reply), mapped),
              error::none)
        << n << " bytes";
  }
}

TEST(stun, an_error_response_says_so) {
  auto m = coturn_reply;
  m[1] = 0x11; // 0x0111: Binding error response
  endpoint mapped;
  EXPECT_EQ(parse_binding_response(m.data(), m.size(), id_of(m), mapped),
            error::error_response);
}

TEST(stun, something_that_is_not_stun_is_named) {
  auto m = coturn_reply;
  m[4] = 0; // the magic cookie
  endpoint mapped;
  EXPECT_EQ(parse_binding_response(m.data(), m.size(), id_of(m), mapped),
            error::not_stun);
  auto dns = from_hex("8180 0001 0001 0000 0000 0000 0000 0000 0000 0000");
  EXPECT_EQ(parse_binding_response(dns.data(), dns.size(), id_of(dns), mapped),
            error::not_stun);
}

TEST(stun, an_rfc_3489_mapped_address_is_read_unxored) {
  auto m = from_hex("0101 000c 2112a442 000102030405060708090a0b"
                    "0001 0008 0001 1f90 c0000201");
  endpoint mapped;
  ASSERT_EQ(parse_binding_response(m.data(), m.size(), id_of(m), mapped),
            error::none);
  EXPECT_EQ(mapped, ep("192.0.2.1", 8080));
}

TEST(stun, the_xored_address_wins_in_either_order) {
  auto plain_first = from_hex("0101 0018 2112a442 000102030405060708090a0b"
                              "0001 0008 0001 0001 01010101"
                              "0020 0008 0001 a147 e112a643");
  auto xored_first = from_hex("0101 0018 2112a442 000102030405060708090a0b"
                              "0020 0008 0001 a147 e112a643"
                              "0001 0008 0001 0001 01010101");
  for (auto& m : {plain_first, xored_first}) {
    endpoint mapped;
    ASSERT_EQ(parse_binding_response(m.data(), m.size(), id_of(m), mapped),
              error::none);
    EXPECT_EQ(mapped, ep("192.0.2.1", 32853));
  }
}

TEST(stun, only_an_ipv6_address_is_no_ipv4_address) {
  auto m = from_hex("0101 0018 2112a442 000102030405060708090a0b"
                    "0020 0014 0002 a147 00000000000000000000000000000000");
  endpoint mapped;
  EXPECT_EQ(parse_binding_response(m.data(), m.size(), id_of(m), mapped),
            error::no_mapped_address);
}

TEST(stun, an_attribute_past_the_end_is_malformed) {
  auto m = from_hex("0101 000c 2112a442 000102030405060708090a0b"
                    "0020 0010 0001 a147 e112a643");
  endpoint mapped;
  EXPECT_EQ(parse_binding_response(m.data(), m.size(), id_of(m), mapped),
            error::bad_attribute);
  auto short_value = from_hex("0101 0008 2112a442 000102030405060708090a0b"
                              "0020 0004 0001 a147");
  EXPECT_EQ(parse_binding_response(short_value.data(), short_value.size(),
                                   id_of(short_value), mapped),
            error::bad_attribute);
}
