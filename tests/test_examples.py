"""Every script in examples/ runs to completion (each checks its own result and exits non-zero
when a check fails). A script whose `# requires:` packages are not installed is skipped."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parent.parent / "examples").glob("*.py"))
TIMEOUT_S = 180


def _requirements(path):
    """The import names a `# requires: a, b[extra]` line lists."""
    match = re.search(r"^# requires: (.+)$", path.read_text(), re.MULTILINE)
    return [re.sub(r"\[.*\]", "", name).strip() for name in match.group(1).split(",")] if match else []


def test_examples_are_found():
    assert len(EXAMPLES) >= 3, EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    missing = [m for m in _requirements(path) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}")
    # From a scratch directory, as a user would run it: the installed fastgru, nothing left behind.
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=TIMEOUT_S,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip(), f"{path.name} printed nothing"
