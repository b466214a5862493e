#pragma once

// Start at login on Windows: the value "Drover" under
// HKCU\Software\Microsoft\Windows\CurrentVersion\Run, and Explorer's own
// switch for it under ...\Explorer\StartupApproved\Run (Task Manager's
// Startup tab writes there). Seed A-5: a Disabled mark there wins; A-6: a
// moved drover.exe is written again. The registry work is in
// windows/startup_entry.cpp; what the values mean is pure and tested on
// both OSes.

#include <cstddef>
#include <cstdint>
#include <string>

namespace drover::platform::startup {

/// StartupApproved's 12-byte value: the first byte's lowest bit set
/// (0x03, 0x07) means the user turned the entry off; 0x02 or 0x06 (or no
/// value) means on.
bool approved(const uint8_t* data, size_t size);

/// The Run value for `program`: its path in quotes (it may contain spaces).
std::wstring run_value(const std::wstring& program);

/// The program a Run value starts (quotes removed), for the A-6 check.
std::wstring program_of(const std::wstring& value);

#ifdef _WIN32
/// Whether Drover starts at login (the Run value exists and Explorer's
/// switch is not off).
bool enabled();

/// Writes or removes the Run value. Turning it on also turns Explorer's
/// switch back on (else the user's click would do nothing). An error
/// text, or empty.
std::string set_enabled(bool on, const std::wstring& program);

/// When enabled, points the value at `program` again if it moved. True
/// when it rewrote it.
bool heal(const std::wstring& program);
#endif

} // namespace drover::platform::startup
