#include "actors/log/redact.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace drover::log {

namespace {

std::mutex secrets_mutex;
std::shared_ptr<const std::vector<std::string>> current_secrets
    = std::make_shared<const std::vector<std::string>>();

std::shared_ptr<const std::vector<std::string>> secrets() {
  std::lock_guard<std::mutex> guard{secrets_mutex};
  return current_secrets;
}

// `secret` as it appears inside a quoted string: TOML's and JSON's basic
// strings and CAF's printed messages escape a quote, a backslash and
// control characters. `unicode` writes the control characters other than
// \t \n \r as \u00XX (JSON, TOML); CAF leaves them as they are.
std::string escaped(const std::string& secret, bool unicode) {
  std::string out;
  for (char c : secret) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += unicode ? "\\r" : "\r";
        break;
      default:
        if (unicode && static_cast<unsigned char>(c) < 0x20) {
          static const char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

} // namespace

void set_secrets(std::vector<std::string> list) {
  // Each secret also in its escaped forms: a message or a config excerpt
  // that quotes it shows those.
  for (size_t i = 0, n = list.size(); i < n; ++i)
    for (bool unicode : {false, true})
      if (auto e = escaped(list[i], unicode); e != list[i])
        list.push_back(std::move(e));
  // Empty strings would match everywhere; longest first so that a secret
  // containing another is replaced whole.
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const std::string& s) { return s.empty(); }),
             list.end());
  std::sort(list.begin(), list.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() > b.size();
            });
  auto next = std::make_shared<const std::vector<std::string>>(std::move(list));
  std::lock_guard<std::mutex> guard{secrets_mutex};
  current_secrets = std::move(next);
}

bool redact_secrets(std::string& text) {
  auto list = secrets();
  bool changed = false;
  for (auto& s : *list) {
    for (auto pos = text.find(s); pos != std::string::npos;
         pos = text.find(s, pos + redacted.size())) {
      text.replace(pos, s.size(), redacted);
      changed = true;
    }
  }
  return changed;
}

bool is_credential_field(std::string_view name) {
  std::string lower{name};
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  for (auto word : {"password", "passwd", "login", "username", "user_name",
                    "secret", "token", "credential"})
    if (lower.find(word) != std::string::npos)
      return true;
  return false;
}

} // namespace drover::log
