// A test double of WinDivert.dll for the Windows build's tests under wine
// (the driver cannot run there). It exports the documented functions with
// the documented ABI (actors/platform/windivert_abi.hpp). Scripted through
// the environment:
//   DROVER_FAKE_WINDIVERT_OPEN_ERROR=N   WinDivertOpen fails with error N
//   DROVER_FAKE_WINDIVERT_VERSION=M.m    the driver version it reports

#include <cstdio>
#include <cstdlib>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/windivert_abi.hpp"

using namespace drover::platform::windivert;

namespace {

int handles_open = 0;

// The process environment (shared by every module, whatever its C runtime).
bool scripted(const char* name, char (&value)[64]) {
  auto n = GetEnvironmentVariableA(name, value, sizeof value);
  return n > 0 && n < sizeof value;
}

} // namespace

extern "C" {

__declspec(dllexport) handle
    WinDivertOpen(const char* filter, layer, int16_t, uint64_t) {
  char e[64];
  if (scripted("DROVER_FAKE_WINDIVERT_OPEN_ERROR", e)) {
    SetLastError(static_cast<DWORD>(std::strtoul(e, nullptr, 10)));
    return INVALID_HANDLE_VALUE;
  }
  if (filter == nullptr) {
    SetLastError(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
  }
  ++handles_open;
  return CreateEventW(nullptr, TRUE, FALSE, nullptr); // any real handle
}

__declspec(dllexport) BOOL WinDivertRecvEx(handle, void*, UINT, UINT*, UINT64,
                                           address*, UINT*, LPOVERLAPPED) {
  SetLastError(ERROR_NO_DATA);
  return FALSE;
}

__declspec(dllexport) BOOL
    WinDivertSendEx(handle, const void*, UINT, UINT*, UINT64, const address*,
                    UINT, LPOVERLAPPED) {
  return TRUE;
}

__declspec(dllexport) BOOL WinDivertShutdown(handle, shutdown_how) {
  return TRUE;
}

__declspec(dllexport) BOOL WinDivertClose(handle h) {
  --handles_open;
  return CloseHandle(h);
}

__declspec(dllexport) BOOL WinDivertSetParam(handle, param, UINT64) {
  return TRUE;
}

__declspec(dllexport) BOOL WinDivertGetParam(handle, param p, UINT64* value) {
  char v[64];
  unsigned major = 2, minor = 2;
  if (scripted("DROVER_FAKE_WINDIVERT_VERSION", v))
    std::sscanf(v, "%u.%u", &major, &minor);
  *value = p == param_version_major ? major : minor;
  return TRUE;
}

// For the tests: handles opened and not yet closed.
__declspec(dllexport) int DroverFakeOpenHandles() {
  return handles_open;
}

} // extern "C"
