#include "config/reader.hpp"

#include <sstream>

namespace drover::config {

bool is_secret_key(std::string_view key) {
  return key == "proxy.password" || key == "proxy.login";
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + '"';
}

std::string describe(const toml::node& n, bool secret) {
  switch (n.type()) {
    case toml::node_type::string:
      return secret ? "a string" : "the string " + quote(n.as_string()->get());
    case toml::node_type::integer:
      return secret ? "an integer"
                    : "the integer " + std::to_string(n.as_integer()->get());
    case toml::node_type::floating_point: {
      if (secret)
        return "a number with a fraction";
      std::ostringstream os;
      os << n.as_floating_point()->get();
      return "the number " + os.str();
    }
    case toml::node_type::boolean:
      return secret ? "a boolean" : (n.as_boolean()->get() ? "true" : "false");
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date or time";
    default:
      return "nothing";
  }
}

} // namespace drover::config
