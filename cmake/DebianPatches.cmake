# The libraries the Windows build compiles for mingw (CAF, Qt) carry
# Debian's patch series; their build scripts record it in ROOT/debian-
# patches. An older build, or one from elsewhere, has no such record and is
# refused here: it would lack Debian's fixes (for Qt, its security fixes).
#   drover_require_debian_patches(ROOT REGEX SCRIPT)
# REGEX: a line the record must have; SCRIPT: what rebuilds it.
function(drover_require_debian_patches root regex script)
  set(record "${root}/debian-patches")
  set(found)
  if(EXISTS "${record}")
    file(STRINGS "${record}" found REGEX "${regex}")
  endif()
  if(NOT found)
    message(FATAL_ERROR "${root} was built without Debian's patch series "
                        "(no ${record} listing it): rebuild it with ${script}")
  endif()
endfunction()
