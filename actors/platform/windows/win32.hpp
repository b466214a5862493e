#pragma once

// Small Win32 helpers shared by the Windows platform files.

#include <string>
#include <vector>

namespace drover::platform::windows_port {

/// Starts Winsock once per process (CAF's middleman does too; the command
/// line's check and status run without one).
void ensure_winsock();

/// A Windows (or Winsock) error code in words, with the code.
std::string error_text(unsigned long code);

/// UTF-16 to UTF-8 and back (Windows' wide API; Drover's strings are UTF-8).
std::string to_utf8(const std::wstring& wide);
std::wstring to_wide(const std::string& utf8);

/// The export `name` of the loaded DLL `module` (an HMODULE), or null with
/// `name` added to `missing` (a list of names for the user).
void* find_export(void* module, const char* name, std::string& missing);
/// The same, as the export's real type (GetProcAddress's generic function
/// pointer cast to it).
template<class Fn>
bool find_export(void* module, const char* name, Fn& fn, std::string& missing) {
  fn = reinterpret_cast<Fn>(find_export(module, name, missing));
  return fn != nullptr;
}

/// One argument of a command line, quoted (only when it must be) so that
/// the C runtime's parser reads it back unchanged.
std::wstring quote_argument(const std::wstring& a);

/// A whole command line of UTF-8 arguments, each quoted as it must be.
std::wstring command_line(const std::vector<std::string>& args);

} // namespace drover::platform::windows_port
