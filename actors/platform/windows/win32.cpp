#include "actors/platform/windows/win32.hpp"

#include <winsock2.h>
// After winsock2.h, which must come first.
#include <windows.h>

namespace drover::platform::windows_port {

void ensure_winsock() {
  static const bool started = [] {
    WSADATA data;
    return WSAStartup(MAKEWORD(2, 2), &data) == 0;
  }();
  (void)started;
}

std::string error_text(unsigned long code) {
  wchar_t* text = nullptr;
  auto n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM
          | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string out;
  if (n > 0 && text != nullptr) {
    out = to_utf8(std::wstring{text, n});
    while (!out.empty()
           && (out.back() == '\n' || out.back() == '\r' || out.back() == ' '
               || out.back() == '.'))
      out.pop_back();
  }
  if (text != nullptr)
    LocalFree(text);
  if (out.empty())
    out = "Windows error";
  return out + " (" + std::to_string(code) + ")";
}

// One argument as the C runtime's command-line parser reads it back:
// quoted only when it must be, backslashes doubled only before a quote.
std::wstring command_line(const std::vector<std::string>& args) {
  std::wstring line;
  for (auto& a : args) {
    if (!line.empty())
      line += L' ';
    line += quote_argument(to_wide(a));
  }
  return line;
}

std::wstring quote_argument(const std::wstring& a) {
  if (!a.empty() && a.find_first_of(L" \t\n\v\"") == std::wstring::npos)
    return a;
  std::wstring out = L"\"";
  for (size_t i = 0;; ++i) {
    size_t backslashes = 0;
    while (i < a.size() && a[i] == L'\\') {
      ++i;
      ++backslashes;
    }
    if (i == a.size()) {
      out.append(backslashes * 2, L'\\');
      break;
    }
    if (a[i] == L'"')
      out.append(backslashes * 2 + 1, L'\\');
    else
      out.append(backslashes, L'\\');
    out += a[i];
  }
  return out + L"\"";
}

std::string to_utf8(const std::wstring& wide) {
  if (wide.empty())
    return {};
  int n = WideCharToMultiByte(CP_UTF8, 0, wide.data(),
                              static_cast<int>(wide.size()), nullptr, 0,
                              nullptr, nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                      out.data(), n, nullptr, nullptr);
  return out;
}

void* find_export(void* module, const char* name, std::string& missing) {
  auto* p = GetProcAddress(static_cast<HMODULE>(module), name);
  if (p == nullptr)
    missing += missing.empty() ? name : std::string{", "} + name;
  return reinterpret_cast<void*>(p);
}

std::wstring to_wide(const std::string& utf8) {
  if (utf8.empty())
    return {};
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(),
                              static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()),
                      out.data(), n);
  return out;
}

} // namespace drover::platform::windows_port
