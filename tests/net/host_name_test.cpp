// The host name in a client's first bytes: a real ClientHello (Python's
// ssl module over OpenSSL, for gateway.discord.gg), the same split across
// records and segments, HTTP requests, and what is no name.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/host_name.hpp"

using namespace drover::net;

namespace {

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(
        static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

const std::vector<uint8_t>& hello() {
  static auto bytes = from_hex(
      "1603010200010001fc0303200ce7c50cdac43e111a586dbe98f5a1ae2c76d9420e301018"
      "ea79a13120ea522079105f439a5ee649cd393bbc693de188a49ce0f9b485d818b8241f19"
      "98131e8a0024130213031301c02cc030c02bc02fcca9cca8c024c028c023c027009f009e"
      "006b006700ff0100018f000000170015000012676174657761792e646973636f72642e67"
      "67000b000403000102000a00160014001d0017001e001900180100010101020103010400"
      "2300000016000000170000000d002a0028040305030603080708080809080a080b080408"
      "050806040105010601030303010302040205020602002b00050403040303002d00020101"
      "003300260024001d00204d0f791e7339b61aa4d7c914f67ac5c15b83224418c66ecbda50"
      "fe3dd9345b0c001500db0000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000"
      "00000000000000000000000000");
  return bytes;
}

first_bytes read(const std::vector<uint8_t>& b, std::string& host) {
  host.clear();
  return host_of_first_bytes(b.data(), b.size(), host);
}

first_bytes read(const std::string& text, std::string& host) {
  return read(std::vector<uint8_t>(text.begin(), text.end()), host);
}

} // namespace

TEST(host_name, a_real_client_hello_names_its_server) {
  std::string host;
  ASSERT_EQ(hello().size(), 517u);
  EXPECT_EQ(read(hello(), host), first_bytes::named);
  EXPECT_EQ(host, "gateway.discord.gg");
}

// TCP hands the bytes over as they come: every prefix waits for more.
TEST(host_name, a_hello_in_pieces_waits_for_the_rest) {
  std::string host;
  for (size_t n : {size_t{1}, size_t{5}, size_t{6}, size_t{100}, size_t{516}}) {
    std::vector<uint8_t> part(hello().begin(),
                              hello().begin() + static_cast<long>(n));
    EXPECT_EQ(read(part, host), first_bytes::need_more) << n;
  }
}

// A ClientHello may span records (a large one, or a stack that splits).
TEST(host_name, a_hello_split_across_records_is_put_together) {
  auto& h = hello();
  std::vector<uint8_t> body(h.begin() + 5, h.end());
  std::vector<uint8_t> split;
  size_t cut = 100;
  for (auto [from, to] :
       {std::pair<size_t, size_t>{0, cut}, {cut, body.size()}}) {
    size_t n = to - from;
    split.insert(split.end(), {22, 3, 1, static_cast<uint8_t>(n >> 8),
                               static_cast<uint8_t>(n & 0xff)});
    split.insert(split.end(), body.begin() + static_cast<long>(from),
                 body.begin() + static_cast<long>(to));
  }
  std::string host;
  EXPECT_EQ(read(split, host), first_bytes::named);
  EXPECT_EQ(host, "gateway.discord.gg");
  split.resize(5 + cut + 3);
  EXPECT_EQ(read(split, host), first_bytes::need_more);
}

TEST(host_name, http_names_its_host_without_the_port) {
  std::string host;
  EXPECT_EQ(
      read("GET / HTTP/1.1\r\nUser-Agent: x\r\nhOsT:  cdn.discordapp.com:8080 "
           "\r\nAccept: */*\r\n\r\n",
           host),
      first_bytes::named);
  EXPECT_EQ(host, "cdn.discordapp.com");
  EXPECT_EQ(read("POST /api HTTP/1.1\r\nHost: discord.com\r\n", host),
            first_bytes::need_more)
      << "the headers are not over yet";
  EXPECT_EQ(read("GE", host), first_bytes::need_more);
  EXPECT_EQ(read("GET / HTTP/1.0\r\n\r\n", host), first_bytes::unnamed)
      << "no Host header";
}

// Names only: an address, a name with a bad character or a bad port, and
// protocols that are neither TLS nor HTTP leave the address in use.
TEST(host_name, what_is_no_name_is_unnamed) {
  std::string host;
  for (auto text :
       {"GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: evil.com\x01x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b.com\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com:80x\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n", "\x05\x01\x00", "get / HTTP/1.1\r\n\r\n"})
    EXPECT_EQ(read(std::string{text}, host), first_bytes::unnamed) << text;
  auto wrong = hello();
  wrong[5] = 2; // a ServerHello, not a ClientHello
  EXPECT_EQ(read(wrong, host), first_bytes::unnamed);
  wrong = hello();
  wrong[0] = 23; // application data
  EXPECT_EQ(read(wrong, host), first_bytes::unnamed);
  std::vector<uint8_t> endless(max_first_bytes + 10, 'x');
  endless[0] = 'G';
  endless[1] = ' ';
  EXPECT_EQ(read(endless, host), first_bytes::unnamed)
      << "beyond the limit it waits no longer";
}

TEST(host_name, dns_names_are_plain) {
  for (auto& ok : std::vector<std::string>{"discord.com", "a-b.c", "x",
                                           "gateway.discord.gg.", "123.example",
                                           std::string(63, 'a') + ".com"})
    EXPECT_TRUE(is_dns_name(ok)) << ok;
  for (auto& bad : std::vector<std::string>{
           "", ".", "a..b", "-a.com", "a-.com", "1.2.3.4", "a_b.com", "a b",
           std::string(64, 'a') + ".com", std::string(254, 'a')})
    EXPECT_FALSE(is_dns_name(bad)) << bad;
}
