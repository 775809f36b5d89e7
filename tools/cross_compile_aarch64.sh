#!/usr/bin/env bash
# The C++ core cross-compiled for aarch64 Linux (no Python), its check program run under qemu:
# proves a non-x86 build compiles only the scalar kernels and that they compute the right thing.
#
#   tools/cross_compile_aarch64.sh            # build into build/cross-aarch64, run the check
#   BUILD_DIR=/tmp/x JOBS=2 tools/cross_compile_aarch64.sh
#
# Needs Debian's cross compiler and user-mode qemu (the aarch64 glibc comes with the compiler):
#   apt-get install -y g++-aarch64-linux-gnu qemu-user
# Builds tools/cpp_check (the core as a CMake subdirectory + fastgru_cpp_check) and the C++
# benchmarks (-DFASTGRU_BUILD_BENCH=ON, as .ci/run's standalone build), warnings as errors, with
# cmake/toolchains/aarch64-linux-gnu.cmake. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build/cross-aarch64}
jobs=${JOBS:-2}
sysroot=/usr/aarch64-linux-gnu
t0=$SECONDS

missing=()
for tool in aarch64-linux-gnu-g++ aarch64-linux-gnu-nm qemu-aarch64 cmake; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "cross_compile_aarch64: missing ${missing[*]}; install with:" >&2
  echo "  apt-get install -y g++-aarch64-linux-gnu qemu-user" >&2
  exit 1
fi

cmake -S tools/cpp_check -B "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DFASTGRU_WERROR=ON -DFASTGRU_BUILD_BENCH=ON >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
grep -E "^-- fastgru: CPU kernels compiled" "$build.configure.log"
cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1 || { tail -50 "$build.build.log" >&2; exit 1; }
echo "built with $(aarch64-linux-gnu-g++ --version | head -1)"

check=$build/fastgru_cpp_check
file "$check" 2>/dev/null || true
# Every kernel lives in a namespace named after its ISA (fastgru::kernels::<isa>): the scalar one
# must be in the library, no other. (FASTGRU_HAVE_AVX2/512 are what put their tables in the registry.)
core=$(find "$build" -name libfastgru_core.a | head -1)
[[ -n $core ]] || { echo "FAIL: libfastgru_core.a not found under $build" >&2; exit 1; }
symbols=$(aarch64-linux-gnu-nm -C "$core" "$check")
if grep -E "kernels::avx(2|512)::" <<<"$symbols" | head -5 | grep .; then
  echo "FAIL: AVX kernel symbols in an aarch64 build (above)" >&2
  exit 1
fi
n_scalar=$(grep -c "kernels::scalar::" <<<"$symbols" || true)
((n_scalar > 0)) || { echo "FAIL: no fastgru::kernels::scalar symbols found: the nm check saw nothing" >&2; exit 1; }
echo "nm: $n_scalar fastgru::kernels::scalar symbols, no kernels::avx2/avx512 symbols"
if grep -q "FASTGRU_HAVE_AVX" "$build/fastgru/cpp/CMakeFiles/fastgru_core.dir/flags.make" 2>/dev/null; then
  echo "FAIL: fastgru_core compiled with FASTGRU_HAVE_AVX*" >&2
  exit 1
fi

qemu=(qemu-aarch64 -L "$sysroot")
"${qemu[@]}" "$check" --expect-isas scalar
# The benchmarks link and run too (a few steps: this is a smoke test, not a measurement).
"${qemu[@]}" "$build/fastgru/bench/cpp/fastgru_step_latency" 2 200 | tail -2
echo "aarch64 cross build + qemu check: OK ($((SECONDS - t0)) s)"
