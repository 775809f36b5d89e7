"""The public API as a type checker sees it (mypy --strict on user code): the documented calls
check cleanly with NumPy array types, and a misspelt attribute is an error, not hidden by a
catch-all __getattr__."""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("mypy")

USER_CODE = textwrap.dedent("""
    import numpy as np
    import numpy.typing as npt
    import fastgru

    gru = fastgru.GRU(4, 8, num_layers=2, seed=0)
    x = np.zeros((5, 2, 4), np.float32)
    y, h_n = gru(x, lengths=[5, 3])
    y2, h2, cache = gru.forward(x, training=True)
    grads: dict[str, npt.NDArray[np.floating]] = gru.backward(cache, dy=np.ones_like(y2))
    state = gru.initial_state(2)
    y_t, state = gru.step(x[0], state)
    total = float(y.sum() + grads["x"].sum() + y_t.sum())
    gru.load_state_dict(gru.state_dict())
    fastgru.set_num_threads(1)
    print(total, gru.hidden_size + 1, fastgru.get_isa().upper())
    """)


def _mypy(tmp_path, code):
    path = tmp_path / "user.py"
    path.write_text(code)
    # From tmp_path, so the installed fastgru is checked, as a user's program would see it.
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path),
                           str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_documented_calls_check_cleanly(tmp_path):
    out = _mypy(tmp_path, USER_CODE)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_misspelt_attribute_is_an_error(tmp_path):
    out = _mypy(tmp_path, USER_CODE + "print(gru.hiden_size)\n")
    assert out.returncode == 1 and 'has no attribute "hiden_size"' in out.stdout, out.stdout + out.stderr


def test_outputs_are_typed_as_float_arrays(tmp_path):
    out = _mypy(tmp_path, USER_CODE + "reveal_type(y)\nreveal_type(gru.state_dict())\n")
    assert out.stdout.count("numpy.floating") >= 2, out.stdout
