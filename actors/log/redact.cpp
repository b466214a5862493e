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

} // namespace

void set_secrets(std::vector<std::string> list) {
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
