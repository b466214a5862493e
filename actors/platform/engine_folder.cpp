#include "actors/platform/files.hpp"

namespace drover::platform {

bool trusted_folder_owner(std::string_view owner_sid,
                          std::string_view engine_user_sid) {
  // SYSTEM, the Administrators group (an elevated administrator's default
  // owner), TrustedInstaller, or the administrator account the engine runs
  // as. A standard user can make none of these the owner of a folder.
  for (std::string_view trusted :
       {"S-1-5-18", "S-1-5-32-544",
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"})
    if (owner_sid == trusted)
      return true;
  return !engine_user_sid.empty() && owner_sid == engine_user_sid;
}

} // namespace drover::platform
