#include "actors/platform/process.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

namespace drover::platform {

namespace {

HANDLE termination_event() {
  static HANDLE event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  return event;
}

BOOL WINAPI on_console_event(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      SetEvent(termination_event());
      return TRUE;
    default:
      return FALSE;
  }
}

} // namespace

void capture_termination_requests() {
  termination_event();
  SetConsoleCtrlHandler(on_console_event, TRUE);
}

void wait_for_termination() {
  WaitForSingleObject(termination_event(), INFINITE);
}

void request_termination() {
  SetEvent(termination_event());
}

unsigned long current_process_id() {
  return GetCurrentProcessId();
}

} // namespace drover::platform
