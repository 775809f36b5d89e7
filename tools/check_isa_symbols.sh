#!/usr/bin/env bash
# Every inline function or template instantiation that an ISA's kernel objects define must lie in
# that ISA's namespace (fastgru::kernels::<isa>). A weak definition outside it (a std:: template
# used in a generic kernel body, say) is merged by the linker with the baseline code's copy, and
# the copy it keeps may be the one compiled with -mavx512f: baseline code would then run AVX-512
# instructions on a CPU without them. Usage: tools/check_isa_symbols.sh <cmake build directory>
set -euo pipefail
build=${1:?usage: $0 <cmake build directory>}
found=0
checked=0
for dir in "$build"/cpp/CMakeFiles/fastgru_kernels_*.dir; do
  [ -d "$dir" ] || continue
  lib=${dir##*/fastgru_kernels_}
  lib=${lib%.dir}
  case $lib in avx512*) namespace="fastgru::kernels::avx512" ;; *) namespace="fastgru::kernels::$lib" ;; esac
  while IFS= read -r -d '' object; do
    checked=$((checked + 1))
    # W / V: weak, u: unique global; the personality reference is the C++ runtime's own.
    stray=$(nm -C --defined-only "$object" | awk '$2 ~ /^[WVu]$/' | grep -v -e "$namespace::" -e "DW.ref.__gxx_personality_v0" || true)
    if [ -n "$stray" ]; then
      echo "$object defines weak symbols outside $namespace:" >&2
      echo "$stray" >&2
      found=1
    fi
  done < <(find "$dir" -name '*.o' -print0)
done
if [ "$checked" -eq 0 ]; then
  echo "no ISA kernel objects under $build/cpp/CMakeFiles" >&2
  exit 1
fi
[ "$found" -eq 0 ] && echo "ISA kernel objects: $checked checked, no weak symbols outside their namespace"
exit "$found"
