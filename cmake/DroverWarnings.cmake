# drover_set_warnings(<target>): the project's warning flags, on every target
# the project compiles (not on third-party code).
function(drover_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(DROVER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
