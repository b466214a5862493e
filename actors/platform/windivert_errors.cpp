#include "actors/platform/windivert_errors.hpp"

namespace drover::platform::windivert {

namespace {

std::string code_text(uint32_t code) {
  return " (Windows error " + std::to_string(code) + ")";
}

} // namespace

open_error explain_open_error(uint32_t code) {
  open_error e;
  switch (code) {
    case 5: // ERROR_ACCESS_DENIED
      e.failure = capture_failure::not_permitted;
      e.text = "Drover needs administrator rights to capture traffic"
               + code_text(code)
               + ". Start it with \"Run as administrator\" (its shortcut does "
                 "this and Windows asks once).";
      return e;
    case 2: // ERROR_FILE_NOT_FOUND
    case 3: // ERROR_PATH_NOT_FOUND
      e.text = "WinDivert's driver cannot be found" + code_text(code)
               + ". Either WinDivert64.sys is missing beside drover.exe (your "
                 "antivirus may have removed it: reinstall Drover), or "
                 "another tool left a broken WinDivert service behind. If "
                 "reinstalling does not help, run as administrator: sc "
                 "delete WinDivert, then restart Windows.";
      return e;
    case 577: // ERROR_INVALID_IMAGE_HASH
      e.text = "Windows refused the signature of WinDivert's driver"
               + code_text(code)
               + ". Secure Boot settings or an out-of-date Windows block it: "
                 "install the Windows updates, then Retry.";
      return e;
    case 1275: // ERROR_DRIVER_BLOCKED
      e.text = "Security software blocked WinDivert's driver" + code_text(code)
               + ". Antivirus programs often flag WinDivert as a \"HackTool\" "
                 "(a false positive): allow Drover's folder in your "
                 "antivirus, then Retry. In a virtual machine, the "
                 "hypervisor may block it too.";
      return e;
    case 654: // ERROR_DRIVER_FAILED_PRIOR_UNLOAD
      e.text = "An old WinDivert from another tool is loaded" + code_text(code)
               + ". Close that tool (GoodbyeDPI, zapret and the like), then "
                 "run as administrator: sc stop WinDivert, then sc delete "
                 "WinDivert, and Retry.";
      return e;
    case 1753: // EPT_S_NOT_REGISTERED
      e.text = "The Windows service \"Base Filtering Engine\" is off"
               + code_text(code)
               + "; WinDivert needs it. Start it in Services (services.msc), "
                 "then Retry.";
      return e;
    case 1058: // ERROR_SERVICE_DISABLED
      e.text = "WinDivert's driver service is disabled or was stopped"
               + code_text(code)
               + ". Run as administrator: sc delete WinDivert, then Retry.";
      return e;
    case 1060: // ERROR_SERVICE_DOES_NOT_EXIST
    case 110:  // ERROR_OPEN_FAILED: the driver install failed
      e.text = "WinDivert's driver could not be installed" + code_text(code)
               + ". Restart Windows and try again; if it keeps failing, "
                 "reinstall Drover.";
      return e;
    case 87: // ERROR_INVALID_PARAMETER: our filter, layer or flags
      e.failure = capture_failure::unavailable;
      e.text = "WinDivert refused Drover's request" + code_text(code)
               + ". This is a bug in Drover: please report it with the log "
                 "file.";
      return e;
    default:
      e.text = "WinDivert could not be opened" + code_text(code)
               + ". Retry; if it keeps failing, restart Windows.";
      return e;
  }
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
