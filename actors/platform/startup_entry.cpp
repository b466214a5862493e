#include "actors/platform/startup_entry.hpp"

namespace drover::platform::startup {

bool approved(const uint8_t* data, size_t size) {
  return size == 0 || (data[0] & 1) == 0;
}

std::wstring run_value(const std::wstring& program) {
  return L"\"" + program + L"\"";
}

std::wstring program_of(const std::wstring& value) {
  if (!value.empty() && value.front() == L'"') {
    auto end = value.find(L'"', 1);
    return value.substr(1, end == std::wstring::npos ? std::wstring::npos
                                                     : end - 1);
  }
  return value.substr(0, value.find(L' '));
}

} // namespace drover::platform::startup
