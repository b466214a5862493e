// The metrics endpoint's HTTP: what a scraper (Prometheus, curl) sends is
// served; anything else gets the status that says why, and a request
// that never ends is cut off at its bound.

#include <gtest/gtest.h>

#include "net/metrics_http.hpp"

using namespace drover::net::metrics_http;

TEST(metrics_http, a_scrapers_request_is_served) {
  EXPECT_EQ(read_request("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\n"
                         "User-Agent: Prometheus/2.42.0\r\n\r\n"),
            verdict::metrics);
  EXPECT_EQ(read_request("GET /metrics?name[]=drover_up HTTP/1.0\n\n"),
            verdict::metrics);
  EXPECT_EQ(read_request("GET /metrics HTTP/1.1\r\nHost: x\r\n"),
            verdict::need_more)
      << "the header is not whole yet";
  EXPECT_EQ(read_request(""), verdict::need_more);
}

TEST(metrics_http, anything_else_is_answered_with_why) {
  EXPECT_EQ(read_request("GET / HTTP/1.1\r\n\r\n"), verdict::not_found);
  EXPECT_EQ(read_request("GET /metricsx HTTP/1.1\r\n\r\n"), verdict::not_found);
  EXPECT_EQ(read_request("POST /metrics HTTP/1.1\r\n\r\n"),
            verdict::not_allowed);
  for (auto bad :
       {"GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
        " /metrics HTTP/1.1\r\n\r\n", "\r\n\r\n",
        "\x16\x03\x01\x02 TLS\r\n\r\n"})
    EXPECT_EQ(read_request(bad), verdict::bad_request) << bad;
  EXPECT_EQ(read_request(std::string(max_request + 1, 'a')),
            verdict::bad_request)
      << "no end in sight: cut off";
  auto long_header = "GET /metrics HTTP/1.1\r\nX: "
                     + std::string(max_request, 'a') + "\r\n\r\n";
  EXPECT_EQ(read_request(long_header), verdict::bad_request);
}

TEST(metrics_http, the_answer_is_whole_and_closes) {
  auto ok = answer(verdict::metrics, "drover_up 1\n");
  EXPECT_EQ(ok, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
                "charset=utf-8\r\nContent-Length: 12\r\nConnection: "
                "close\r\n\r\ndrover_up 1\n");
  EXPECT_EQ(answer(verdict::not_found, "secret").find("secret"),
            std::string::npos)
      << "only /metrics carries the numbers";
  EXPECT_NE(answer(verdict::not_allowed, "").find("405 Method Not Allowed"),
            std::string::npos);
  EXPECT_NE(answer(verdict::not_allowed, "").find("\r\nAllow: GET\r\n"),
            std::string::npos);
  EXPECT_NE(answer(verdict::bad_request, "").find("400 Bad Request"),
            std::string::npos);
}
