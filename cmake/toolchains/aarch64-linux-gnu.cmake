# Cross-compiling for 64-bit Arm Linux with Debian's GNU toolchain (g++-aarch64-linux-gnu):
#   cmake -S tools/cpp_check -B build/aarch64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# Programs built with it run here under qemu-aarch64 -L /usr/aarch64-linux-gnu
# (tools/cross_compile_aarch64.sh). The prefix can be changed with -DFASTGRU_CROSS_PREFIX=...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT DEFINED FASTGRU_CROSS_PREFIX)
  set(FASTGRU_CROSS_PREFIX aarch64-linux-gnu-)
endif()
set(CMAKE_C_COMPILER ${FASTGRU_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${FASTGRU_CROSS_PREFIX}g++)

# Libraries and headers come from the target's sysroot only; programs (cmake's own tools) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run and friends cannot run target programs without an emulator; with qemu they can.
find_program(_fastgru_qemu qemu-aarch64)
if(_fastgru_qemu)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${_fastgru_qemu} -L /usr/aarch64-linux-gnu)
endif()
