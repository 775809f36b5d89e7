"""The command line (python -m fastgru) and the advice a missing optional package gets."""

import json
import os
import subprocess
import sys

import pytest

import fastgru

TIMEOUT_S = 300


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "fastgru", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, **kwargs)


def test_version():
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fastgru {fastgru.__version__}"


def test_info_json_is_fastgru_info():
    out = _cli("info", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(json.dumps(fastgru.info()))


def test_info_text_names_every_entry():
    out = _cli("info")
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(fastgru.info())


@pytest.mark.parametrize("args", [("info",), ("info", "--json"), ("demo",), ("bench", "--list")])
def test_a_closed_pipe_ends_quietly(args):
    """`fastgru info | head -1`: the reader is gone before fastgru writes; no traceback."""
    p = subprocess.Popen([sys.executable, "-m", "fastgru", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # before the child has imported fastgru, let alone printed
    _, err = p.communicate(timeout=TIMEOUT_S)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


@pytest.mark.parametrize("args, message", [
    (("nope",), "invalid choice"),
    (("info", "extra"), "unrecognized arguments"),
    (("bench", "--workloads", "S9"), "--workloads"),
    (("bench", "--repeats", "0"), "--repeats"),
])
def test_usage_errors_exit_2_with_a_message(args, message):
    out = _cli(*args)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_demo_checks_what_it_shows():
    out = _cli("demo")
    assert out.returncode == 0, out.stderr
    # Every claim the demo makes is a check it ran: all of them held.
    claims = [line for line in out.stdout.splitlines() if "True" in line or "False" in line]
    assert len(claims) >= 3 and not any("False" in line for line in claims), out.stdout
    assert "relative difference" in out.stdout


def test_help_names_no_file_missing_from_the_repository():
    for args in (("--help",), ("bench", "--help")):
        out = _cli(*args)
        assert out.returncode == 0 and "DESIGN" not in out.stdout, out.stdout


def test_bench_runs_and_checks_every_installed_framework(tmp_path):
    """A quick real run: every installed framework's output is checked against fastgru's, then timed."""
    report = tmp_path / "bench.json"
    out = _cli("bench", "--workloads", "S1", "--repeats", "1", "--min-time", "0.001", "--json", str(report),
               "--markdown", str(tmp_path / "bench.md"))
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(report.read_text())
    statuses = {name: r["status"] for case in data["cases"] for name, r in case["runners"].items()}
    assert statuses and all(s == "ok" for s in statuses.values()), statuses
    expected = {"fastgru", "fastgru-bf16", "fastgru-int8", "numpy"}
    for name, modules in (("torch", ["torch"]), ("onnxruntime", ["onnx", "onnxruntime"]),
                          ("openvino", ["onnx", "openvino"]), ("openvino-default", ["onnx", "openvino"])):
        if all(_importable(m) for m in modules):
            expected.add(name)
    assert set(statuses) == expected
    assert "vs numpy" in out.stdout and "| S1" in (tmp_path / "bench.md").read_text()


def _importable(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --- missing optional packages ------------------------------------------------------------------

@pytest.mark.parametrize("module, extra, call", [
    ("torch", "torch", lambda m, tmp: m.to_torch()),
    ("torch", "torch", lambda m, tmp: fastgru.GRU.from_torch(object())),
    ("onnx", "onnx", lambda m, tmp: m.to_onnx(os.path.join(tmp, "m.onnx"))),
    ("onnx", "onnx", lambda m, tmp: fastgru.load_onnx(os.path.join(tmp, "m.onnx"))),
])
def test_a_missing_optional_package_names_its_extra(monkeypatch, tmp_path, module, extra, call):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails as if not installed
    m = fastgru.GRU(2, 3)
    with pytest.raises(ModuleNotFoundError, match=rf"pip install 'fastgru\[{extra}\]'"):
        call(m, str(tmp_path))


def test_plot_without_matplotlib_says_which_extra(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from fastgru.bench.cli import main; "
            f"sys.exit(main(['--workloads', 'S1', '--plot', {str(tmp_path / 'p.png')!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert out.returncode == 2 and "fastgru[bench]" in out.stderr, out.stderr


def test_optional_import_keeps_errors_from_inside_the_package(monkeypatch, tmp_path):
    """A package that is installed but broken (one of its own imports fails) shows its own error."""
    from fastgru._optional import require

    (tmp_path / "broken_pkg_for_fastgru_test.py").write_text("import missing_dependency_of_broken_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("broken_pkg_for_fastgru_test", "a test")
    assert info.value.name == "missing_dependency_of_broken_pkg" and "fastgru[" not in str(info.value)
