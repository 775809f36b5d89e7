# Warnings for our own targets only, never global flags.
function(fastgru_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${FASTGRU_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow
      $<$<BOOL:${FASTGRU_WERROR}>:-Werror>)
  endif()
endfunction()
