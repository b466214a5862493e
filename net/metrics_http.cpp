#include "net/metrics_http.hpp"

namespace drover::net::metrics_http {

verdict read_request(std::string_view received) {
  auto end = received.find("\r\n\r\n");
  if (end == std::string_view::npos)
    end = received.find("\n\n"); // a client that ends lines with LF alone
  if (end == std::string_view::npos)
    return received.size() > max_request ? verdict::bad_request
                                         : verdict::need_more;
  if (end > max_request)
    return verdict::bad_request;
  auto line = received.substr(0, received.find('\n'));
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  // METHOD SP TARGET SP HTTP/1.x
  auto first = line.find(' ');
  auto last = line.rfind(' ');
  if (first == std::string_view::npos || last == first || first == 0)
    return verdict::bad_request;
  auto method = line.substr(0, first);
  auto target = line.substr(first + 1, last - first - 1);
  auto version = line.substr(last + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return verdict::bad_request;
  if (target.empty() || target.front() != '/'
      || target.find(' ') != std::string_view::npos)
    return verdict::bad_request;
  for (char c : method)
    if (c < 'A' || c > 'Z')
      return verdict::bad_request;
  if (method != "GET")
    return verdict::not_allowed;
  auto path = target.substr(0, target.find('?'));
  return path == "/metrics" ? verdict::metrics : verdict::not_found;
}

std::string answer(verdict v, const std::string& body) {
  std::string status, content, type = "text/plain; charset=utf-8";
  switch (v) {
    case verdict::metrics:
      status = "200 OK";
      content = body;
      type = "text/plain; version=0.0.4; charset=utf-8";
      break;
    case verdict::not_found:
      status = "404 Not Found";
      content = "Drover's metrics are at /metrics\n";
      break;
    case verdict::not_allowed:
      status = "405 Method Not Allowed";
      content = "only GET /metrics is served here\n";
      break;
    case verdict::need_more:
    case verdict::bad_request:
      status = "400 Bad Request";
      content = "not an HTTP/1.x request\n";
      break;
  }
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + type
         + "\r\nContent-Length: " + std::to_string(content.size())
         + (v == verdict::not_allowed ? "\r\nAllow: GET" : "")
         + "\r\nConnection: close\r\n\r\n" + content;
}

} // namespace drover::net::metrics_http
