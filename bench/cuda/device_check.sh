#!/usr/bin/env bash
# The one script a GPU machine runs (the `device` tool, 15 minutes in all): build the CUDA
# extension there, run the CUDA tests, a memcheck of a small forward + backward, and the cuDNN
# comparison; everything goes under $OUT. Each stage has its own time limit and log, and a failed
# stage does not stop the later ones (the rerun after a fix needs all of them).
#
#   bash bench/cuda/device_check.sh            # on the device machine, from the repository root
#
# Its python3 has torch (with cuDNN), CuPy, pybind11, scikit-build-core and pytest: nothing is
# downloaded (build isolation off). Hopper: sm_90 machine code (FASTGRU_CUDA_ARCHITECTURES=90).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/fastgru-device-check}
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
stage() {  # stage NAME SECONDS COMMAND...: runs it with a limit, logs to $out/NAME.log
  local name=$1 limit=$2 start=$SECONDS rc
  shift 2
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  echo "$name: rc=$rc in $((SECONDS - start)) s" | tee -a "$summary"
  return $rc
}

{
  nvidia-smi
  nvcc --version
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
} >"$out/machine.txt" 2>&1

stage build 420 env FASTGRU_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL=16 \
  python3 -m pip install --no-build-isolation --no-deps -v . -Ccmake.define.FASTGRU_CUDA_ARCHITECTURES=90 ||
  { tail -40 "$out/build.log"; exit 1; }
python3 -c 'import fastgru, json; print(json.dumps(fastgru.info()))' | tee "$out/info.json"

stage pytest 300 python3 -m pytest -q -p no:cacheprovider -x tests/test_cuda.py tests/test_device_glue.py \
  tests/test_dlpack.py
tail -3 "$out/pytest.log"

cat >"$out/memcheck_case.py" <<'PY'
import numpy as np, fastgru
rng = np.random.default_rng(0)
for kw in (dict(), dict(num_layers=2, bidirectional=True), dict(cell="ligru")):
    gru = fastgru.GRU(16, 48, seed=0, device="cuda", **kw)
    x = rng.standard_normal((7, 3, 16)).astype(np.float32)
    y, h_n, cache = gru.forward(x, lengths=[7, 2, 5])
    gru.backward(cache, np.ones_like(y))
    if not gru.bidirectional:
        gru.step(x[0], gru.initial_state(3))
print("memcheck case done")
PY
stage memcheck 180 compute-sanitizer --tool memcheck --error-exitcode 3 python3 "$out/memcheck_case.py"
tail -3 "$out/memcheck.log"

# S1 (a single step from Python) is not a GPU workload: bench_cuda.py's default is S2-S5.
stage bench 300 python3 bench/cuda/bench_cuda.py --json "$out/bench.json" --markdown "$out/bench.md"
tail -15 "$out/bench.log"
cat "$summary"
