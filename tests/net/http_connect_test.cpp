// An HTTP proxy's CONNECT: the request Drover writes, and the answers it
// reads (real proxies' shapes: tinyproxy's, squid's), whole or in pieces.
#include <string>

#include <gtest/gtest.h>

#include "net/http_connect.hpp"

using namespace drover::net::http_connect;

namespace {

answer read(const std::string& text) {
  return read_answer(reinterpret_cast<const uint8_t*>(text.data()),
                     text.size());
}

} // namespace

TEST(http_connect, the_request_names_the_target_and_the_login) {
  EXPECT_EQ(
      request("discord.com", 443),
      "CONNECT discord.com:443 HTTP/1.1\r\nHost: discord.com:443\r\n\r\n");
  // RFC 7617's own example: Aladdin / open sesame.
  EXPECT_EQ(request("10.0.0.1", 80, "Aladdin", "open sesame"),
            "CONNECT 10.0.0.1:80 HTTP/1.1\r\nHost: 10.0.0.1:80\r\n"
            "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
  EXPECT_NE(request("h", 1, "a", "b").find("Basic YTpi\r\n"),
            std::string::npos);
  EXPECT_NE(request("h", 1, "ab", "").find("Basic YWI6\r\n"),
            std::string::npos);
}

TEST(http_connect, a_2xx_answer_opens_the_tunnel_after_its_header) {
  std::string ok = "HTTP/1.1 200 Connection established\r\n"
                   "Proxy-agent: tinyproxy/1.11.1\r\n\r\n";
  auto a = read(ok + "server's first bytes");
  EXPECT_EQ(a.what, outcome::connected);
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.header_size, ok.size());
  EXPECT_EQ(read("HTTP/1.0 200 OK\r\n\r\n").what, outcome::connected);
  for (size_t n = 0; n < ok.size(); ++n)
    EXPECT_EQ(read(ok.substr(0, n)).what, outcome::need_more) << n;
}

TEST(http_connect, other_answers_say_why) {
  auto denied
      = read("HTTP/1.1 403 Access violation\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(denied.what, outcome::refused);
  EXPECT_EQ(message(denied), "the HTTP proxy refused: 403 Access violation");
  auto login = read("HTTP/1.1 407 Proxy Authentication Required\r\n"
                    "Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n");
  EXPECT_EQ(login.what, outcome::auth_required);
  EXPECT_NE(message(login).find("wants a login"), std::string::npos);
  EXPECT_EQ(read("HTTP/1.0 401 Unauthorized\r\n\r\n").what,
            outcome::auth_required)
      << "tinyproxy's answer to a wrong password";
  EXPECT_EQ(read("HTTP/1.1 502 Bad Gateway\r\n\r\n").what, outcome::refused);
  EXPECT_EQ(read("HTTP/1.1 200\r\n\r\n").what, outcome::connected)
      << "a status line without a reason is still one";
}

TEST(http_connect, what_is_no_http_answer_is_named) {
  for (auto text : {"\x05\x00", "SSH-2.0-x\r\n\r\n", "HTTP/2 200\r\n\r\n",
                    "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
                    "HTTP/1.1 200OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n"})
    EXPECT_EQ(read(text).what, outcome::not_http) << text;
  std::string endless = "HTTP/1.1 200 OK\r\n" + std::string(max_answer, 'x');
  EXPECT_EQ(read(endless).what, outcome::too_large);
  auto odd = read("HTTP/1.1 418 \x01\xff\r\n\r\n");
  EXPECT_EQ(odd.reason, "??") << "printable only";
}
