#include "actors/platform/windivert_errors.hpp"

namespace drover::platform::windivert {

namespace {

// One known cause: what happened, then (after the code) what to do.
struct known_error {
  uint32_t code;
  capture_failure failure;
  const char* what;
  const char* todo;
};

constexpr const char* stale_or_missing
    = ". Either WinDivert64.sys is missing beside drover.exe (your antivirus "
      "may have removed it: reinstall Drover), or another tool left a broken "
      "WinDivert service behind. If reinstalling does not help, run as "
      "administrator: sc delete WinDivert, then restart Windows.";
constexpr const char* not_installed
    = ". Restart Windows and try again; if it keeps failing, reinstall "
      "Drover.";

constexpr known_error known[] = {
    {5, capture_failure::not_permitted, // ERROR_ACCESS_DENIED
     "Drover needs administrator rights to capture traffic",
     ". Start it with \"Run as administrator\" (its shortcut does this and "
     "Windows asks once)."},
    {2, capture_failure::unavailable, // ERROR_FILE_NOT_FOUND
     "WinDivert's driver cannot be found", stale_or_missing},
    {3, capture_failure::unavailable, // ERROR_PATH_NOT_FOUND
     "WinDivert's driver cannot be found", stale_or_missing},
    {577, capture_failure::unavailable, // ERROR_INVALID_IMAGE_HASH
     "Windows refused the signature of WinDivert's driver",
     ". Secure Boot settings or an out-of-date Windows block it: install the "
     "Windows updates, then Retry."},
    {1275, capture_failure::unavailable, // ERROR_DRIVER_BLOCKED
     "Security software blocked WinDivert's driver",
     ". Antivirus programs often flag WinDivert as a \"HackTool\" (a false "
     "positive): allow Drover's folder in your antivirus, then Retry. In a "
     "virtual machine, the hypervisor may block it too."},
    {654, capture_failure::unavailable, // ERROR_DRIVER_FAILED_PRIOR_UNLOAD
     "An old WinDivert from another tool is loaded",
     ". Close that tool (GoodbyeDPI, zapret and the like), then run as "
     "administrator: sc stop WinDivert, then sc delete WinDivert, and Retry."},
    {1753, capture_failure::unavailable, // EPT_S_NOT_REGISTERED
     "The Windows service \"Base Filtering Engine\" is off",
     "; WinDivert needs it. Start it in Services (services.msc), then "
     "Retry."},
    {1058, capture_failure::unavailable, // ERROR_SERVICE_DISABLED
     "WinDivert's driver service is disabled or was stopped",
     ". Run as administrator: sc delete WinDivert, then Retry."},
    {1060, capture_failure::unavailable, // ERROR_SERVICE_DOES_NOT_EXIST
     "WinDivert's driver could not be installed", not_installed},
    {110, capture_failure::unavailable, // ERROR_OPEN_FAILED: install failed
     "WinDivert's driver could not be installed", not_installed},
    {87, capture_failure::unavailable, // ERROR_INVALID_PARAMETER: ours
     "WinDivert refused Drover's request",
     ". This is a bug in Drover: please report it with the log file."},
};

} // namespace

open_error explain_open_error(uint32_t code) {
  auto code_text = " (Windows error " + std::to_string(code) + ")";
  for (auto& k : known)
    if (k.code == code)
      return {k.failure, k.what + code_text + k.todo};
  return {capture_failure::unavailable,
          "WinDivert could not be opened" + code_text
              + ". Retry; if it keeps failing, restart Windows."};
}

recv_outcome classify_recv_error(uint32_t code) {
  switch (code) {
    case 232: // ERROR_NO_DATA: shut down and drained
    case 995: // ERROR_OPERATION_ABORTED: closed under a pending receive
      return recv_outcome::stopped;
    default: // 6 invalid handle, 1058 service stopped, anything else
      return recv_outcome::handle_lost;
  }
}

} // namespace drover::platform::windivert
