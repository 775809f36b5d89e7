# FASTGRU_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer on everything this project
# compiles (the core, every ISA's kernel object library, the Python module, the C++ benchmarks),
# for tools/sanitized_tests.sh and local debugging; never in a wheel. Included from the top-level
# CMakeLists.txt before any target exists, so the flags are directory-wide: they sit beside the
# per-ISA -m flags (which stay on each ISA's object library alone) and change none of them.
#
# Any UB aborts (-fno-sanitize-recover) so a finding fails the test run instead of scrolling by.
# Nothing is excluded from -fsanitize=undefined: the kernels' unaligned vector accesses are
# loadu/storeu intrinsics (unaligned vector types, which the alignment check accepts; ASan
# checks their bounds) and masked loads/stores for tails (builtins that neither sanitizer sees:
# the scalar kernels cover the tail logic), and the vptr checks are clean on our classes and
# pybind11's. GCC's "undefined" leaves out float-divide-by-zero and float-cast-overflow, so
# NaN/Inf propagating through the kernels (by design) is not reported.
#
# A Python interpreter is not built with ASan: run it with the ASan runtime (and libstdc++)
# preloaded, LD_PRELOAD=$(c++ -print-file-name=libasan.so):$(c++ -print-file-name=libstdc++.so),
# as tools/sanitized_tests.sh does. C++ programs (the benchmarks) need nothing.
option(FASTGRU_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer (GCC/Clang)" OFF)

if(FASTGRU_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "FASTGRU_SANITIZE=ON needs GCC or Clang (got ${CMAKE_CXX_COMPILER_ID})")
  endif()
  set(_fastgru_sanitize_flags
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  # C++ only: nvcc would need each flag behind -Xcompiler, and device code has no ASan.
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${_fastgru_sanitize_flags}>"
    # Line tables only, so reports name file:line at a small cost in build time.
    "$<$<COMPILE_LANGUAGE:CXX>:-g1>")
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "fastgru: AddressSanitizer + UndefinedBehaviorSanitizer ON")
endif()
