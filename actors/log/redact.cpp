#include "actors/log/redact.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "actors/log/json.hpp"
#include "config/parse.hpp"

namespace drover::log {

namespace {

std::mutex secrets_mutex;
std::shared_ptr<const std::vector<std::string>> current_secrets
    = std::make_shared<const std::vector<std::string>>();

std::shared_ptr<const std::vector<std::string>> secrets() {
  std::lock_guard<std::mutex> guard{secrets_mutex};
  return current_secrets;
}

// `secret` as CAF's printed messages quote it: a quote, a backslash, \n
// and \t escaped, other characters as they are.
std::string caf_escaped(const std::string& secret) {
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
      default:
        out += c;
    }
  }
  return out;
}

// A quoted string's inside.
std::string unquoted(std::string quoted) {
  return quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : quoted;
}

// `secret` in every form a log line, the trace or a config excerpt may
// show it: as it is, as CAF prints it, and as the JSON and TOML writers
// themselves escape it (so the forms cannot drift apart from theirs).
std::vector<std::string> forms_of(const std::string& secret) {
  std::string json;
  json::append_string(json, secret);
  return {caf_escaped(secret), unquoted(std::move(json)),
          unquoted(config::toml_string(secret))};
}

} // namespace

void set_secrets(std::vector<std::string> list) {
  // Each secret also in its escaped forms: a message or a config excerpt
  // that quotes it shows those.
  for (size_t i = 0, n = list.size(); i < n; ++i)
    for (auto& form : forms_of(list[i]))
      if (form != list[i])
        list.push_back(std::move(form));
  // Empty strings would match everywhere; longest first so that a secret
  // containing another is replaced whole.
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const std::string& s) { return s.empty(); }),
             list.end());
  std::sort(list.begin(), list.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() != b.size() ? a.size() > b.size() : a < b;
            });
  list.erase(std::unique(list.begin(), list.end()), list.end());
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
