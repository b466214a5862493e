// Any text as a config file (a user's typo, a hostile `config set`): the
// parser answers with settings or with errors that say something, never
// crashes or loops; what it accepts serializes back to the same settings;
// the password stays hidden behind the placeholder and comes back kept.
// The TOML library is also given the text straight.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/parse.hpp"
#include "config/password.hpp"
#include "config/toml_library.hpp"

using namespace drover::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) // what the engine reads at most (max_file_bytes)
    return 0;
  std::string_view text{reinterpret_cast<const char*>(data), size};
  // The library on its own, past config/toml_guard.cpp: text the guard
  // refuses must not reach undefined behaviour there either (the mended
  // tables in config/toml_library.hpp).
#if TOML_EXCEPTIONS
  try {
    (void)toml::parse(text);
  } catch (const toml::parse_error&) {}
#else
  (void)toml::parse(text);
#endif
  auto parsed = parse(text, "fuzz.toml");
  for (auto* list : {&parsed.errors, &parsed.warnings})
    for (auto& d : *list)
      if (d.message.empty() || d.file != "fuzz.toml")
        std::abort();
  if (parsed.ok() == !parsed.errors.empty())
    std::abort();
  // Hidden, whatever the text: the placeholder stands where a password
  // was, and giving the text back keeps the stored password.
  auto hidden = hide_password(text);
  if (!parsed.ok())
    return 0;
  auto& settings = *parsed.value;
  auto again = parse(serialize(settings), "fuzz.toml");
  if (!again.ok() || !(*again.value == settings))
    std::abort();
  auto seen = parse(hidden, "fuzz.toml");
  if (!seen.ok())
    std::abort();
  if (seen.value->proxies.size() != settings.proxies.size())
    std::abort();
  for (size_t i = 0; i < settings.proxies.size(); ++i)
    if (!settings.proxies[i].password.empty()
        && seen.value->proxies[i].password != password_placeholder)
      std::abort();
  auto kept = parse(keep_password(hidden, settings.proxies), "fuzz.toml");
  if (!kept.ok() || !(*kept.value == settings))
    std::abort();
  return 0;
}
