"""Where fastgru is deployed: fork children, thread limits, wait policies, Ctrl-C.

Every scenario that could hang runs in a child process with a timeout, so a regression fails the
test instead of hanging CI.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastgru

# A call that uses the pool (64 sequences: split across threads) and one that forks per step.
BATCH_SHAPE = (20, 64, 64)
STEP_SHAPE = (300, 1, 256)
CHILD_TIMEOUT_S = 60  # a healthy child needs well under a second
# Ctrl-C: the interrupt check runs every ~20 ms; the rest is process and signal delivery on a busy VM.
INTERRUPT_LATENCY_S = 0.5


def _models_and_inputs():
    rng = np.random.default_rng(0)
    batch = fastgru.GRU(64, 256, seed=0)
    step = fastgru.GRU(256, 256, seed=1)
    return [(batch, rng.standard_normal(BATCH_SHAPE).astype(np.float32)),
            (step, rng.standard_normal(STEP_SHAPE).astype(np.float32))]


def _run_all(pairs):
    return [m(x)[0] for m, x in pairs]


PAIRS = None


def _child_task(i):
    """Runs in a fork child: the parent's models, used there."""
    return _run_all(PAIRS)[i % 2]


@pytest.fixture
def parent_results():
    """Models used in the parent with 2 threads, so the pool runs before the fork."""
    global PAIRS
    previous = fastgru.get_num_threads()
    fastgru.set_num_threads(2)
    PAIRS = _models_and_inputs()
    expected = _run_all(PAIRS)
    yield expected
    fastgru.set_num_threads(previous)


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _wait_for_child(pid: int, failure: str) -> None:
    """Waits for fork child `pid`; kills it and fails with `failure` after CHILD_TIMEOUT_S."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(failure)
        time.sleep(0.01)


@needs_fork
def test_os_fork_child_gets_a_working_pool(parent_results):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: same bits as the parent, then report
        try:
            ok = all(np.array_equal(a, b) for a, b in zip(_run_all(PAIRS), parent_results))
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    _wait_for_child(pid, f"fork child did not finish within {CHILD_TIMEOUT_S} s (the pool hung)")
    assert os.read(r, 1) == b"1", "fork child computed different bits from the parent"
    os.close(r)


@needs_fork
def test_multiprocessing_fork_pool(parent_results):
    with mp.get_context("fork").Pool(2) as pool:
        results = pool.map_async(_child_task, range(4)).get(timeout=CHILD_TIMEOUT_S)
    for i, y in enumerate(results):
        np.testing.assert_array_equal(y, parent_results[i % 2])


@needs_fork
def test_process_pool_executor_fork(parent_results):
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        futures = [ex.submit(_child_task, i) for i in range(4)]
        results = [f.result(timeout=CHILD_TIMEOUT_S) for f in futures]
    for i, y in enumerate(results):
        np.testing.assert_array_equal(y, parent_results[i % 2])


def _python(code: str, timeout: float = CHILD_TIMEOUT_S, env: dict[str, str] | None = None,
            preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)


# --- thread counts ------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, -1, fastgru.runtime.MAX_THREADS + 1, 10**6])
def test_set_num_threads_bounds(n):
    with pytest.raises(ValueError, match="num_threads"):
        fastgru.set_num_threads(n)


@pytest.mark.parametrize("value", ["0", "abc", "100000", "2x"])
def test_bad_thread_env_is_a_clear_error(value):
    _assert_env_value_error("get_num_threads", "FASTGRU_NUM_THREADS", value)


def _assert_env_value_error(query: str, variable: str, value: str) -> None:
    """fastgru.<query>() in a fresh process with `variable`=`value` raises a ValueError naming it."""
    out = _python(f"""
        import fastgru
        try:
            fastgru.{query}()
        except ValueError as e:
            print("ValueError:", e)
        """, env={variable: value})
    assert f"ValueError: {variable}" in out.stdout, out.stdout + out.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limit as on Linux")
def test_pool_that_cannot_start_all_threads_still_runs():
    """With too little address space for every thread's stack, the pool runs with half the threads
    it could start, leaving the call room for its arrays (before: 322 threads started, then a hang;
    then, with all it could start kept, glibc or NumPy sometimes found no memory left)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    out = _python(f"""
        import numpy as np, fastgru
        x = np.random.default_rng(0).standard_normal((10, 64, 64)).astype(np.float32)
        m = fastgru.GRU(64, 256, seed=0)
        fastgru.set_num_threads(1)
        expected = m(x)[0]
        fastgru.set_num_threads({fastgru.runtime.MAX_THREADS})
        for _ in range(3):
            assert np.array_equal(m(x)[0], expected)
        print("OK")
        """, preexec_fn=limit)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr


# --- wait policies ------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["active", "passive", "auto"])
def test_wait_policies_give_the_same_bits(policy):
    pairs = _models_and_inputs()
    previous_policy, previous_threads = fastgru.get_wait_policy(), fastgru.get_num_threads()
    try:
        fastgru.set_num_threads(1)
        expected = _run_all(pairs)
        fastgru.set_num_threads(2)
        fastgru.set_wait_policy(policy)
        assert fastgru.get_wait_policy() == policy
        for _ in range(3):
            for y, e in zip(_run_all(pairs), expected):
                np.testing.assert_array_equal(y, e)
    finally:
        fastgru.set_wait_policy(previous_policy)
        fastgru.set_num_threads(previous_threads)


@pytest.mark.parametrize("bad", ["spin", "", "AUTO"])
def test_bad_wait_policy(bad):
    with pytest.raises(ValueError, match="'active', 'passive' or 'auto'"):
        fastgru.set_wait_policy(bad)
    with pytest.raises(TypeError):
        fastgru.set_wait_policy(1)


def test_wait_policy_from_environment():
    out = _python("import fastgru; print(fastgru.get_wait_policy(), fastgru.info()['wait_policy'])",
                  env={"FASTGRU_WAIT_POLICY": "passive"})
    assert out.stdout.split() == ["passive", "passive"], out.stdout + out.stderr
    _assert_env_value_error("get_wait_policy", "FASTGRU_WAIT_POLICY", "busy")


# --- Ctrl-C ---------------------------------------------------------------------------------------

# Each case: a model, an input and a call that runs for seconds, interrupted half a second in.
INTERRUPT_CASES = {  # zeros: untouched pages of x and y cost no memory
    "forward, batch 1": ("fastgru.GRU(64, 512, seed=0)", (200000, 1, 64), "m(x)"),
    "forward, sequence split": ("fastgru.GRU(64, 256, seed=0)", (60000, 64, 64), "m(x)"),
    "forward, directions on threads": ("fastgru.GRU(64, 256, bidirectional=True, seed=0)", (400000, 1, 64), "m(x)"),
    "forward, light GRU": ("fastgru.GRU(64, 512, cell='ligru', seed=0)", (100000, 1, 64), "m(x)"),
    "backward": ("fastgru.GRU(64, 1024, seed=0)", (10000, 1, 64), "m.backward(cache, dy=np.ones_like(y))"),
}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
@pytest.mark.parametrize("case", list(INTERRUPT_CASES))
def test_ctrl_c_interrupts_a_long_call(case):
    model, shape, call = INTERRUPT_CASES[case]
    # The child installs Python's own SIGINT handler: a process started with SIGINT ignored (a
    # background job of a non-interactive shell, as `cmd &` makes) would otherwise inherit that.
    code = f"""
        import signal, sys, time
        import numpy as np, fastgru
        signal.signal(signal.SIGINT, signal.default_int_handler)
        fastgru.set_num_threads(2)
        m = {model}
        x = np.zeros({shape}, np.float32)
        small = np.random.default_rng(0).standard_normal((7, 3, 64)).astype(np.float32)
        before = m(small)[0]
        if "backward" in {call!r}:
            y, _, cache = m.forward(x)
        print("ready", flush=True)
        try:
            {call}
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted", time.monotonic() - float(sys.stdin.readline()))
        after = m(small)[0]
        print("same" if np.array_equal(before, after) else "different")
        """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.stdin.write(f"{sent}\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        proc.kill()
    lines = out.split("\n")
    assert lines[0].startswith("interrupted"), out + err
    latency = float(lines[0].split()[1])
    assert latency < INTERRUPT_LATENCY_S, f"KeyboardInterrupt came {latency:.3f} s after SIGINT"
    assert lines[1] == "same", "the model gave different results after the interrupted call"


# Two calls of a million steps: ~3 s here, but over a minute under AddressSanitizer on a slow
# 2-core VM (CI, 2026-12-02). The bound only has to stop a hang.
LONG_CHILD_TIMEOUT_S = 300


def test_signal_handler_that_does_not_raise_lets_the_call_finish():
    out = _python(timeout=LONG_CHILD_TIMEOUT_S, code="""
        import signal, threading, os, numpy as np, fastgru
        seen = []
        signal.signal(signal.SIGINT, lambda *a: seen.append(1))
        m = fastgru.GRU(16, 64, seed=0)
        x = np.ones((1000000, 1, 16), np.float32)
        timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        y, h = m(x)
        timer.join()
        ref = fastgru.GRU(16, 64, seed=0)(x)[0]
        print(len(seen), np.array_equal(y, ref))
        """)
    assert out.stdout.split() == ["1", "True"], out.stdout + out.stderr


# --- the contention benchmark runs -------------------------------------------------------------

def test_contention_benchmark_measures_every_model():
    from fastgru.bench import contention

    results = contention.measure(workers=1, duration=0.01)
    assert [r.model for r in results] == [name for name, _, _ in contention.MODELS]
    for r in results:
        assert r.default_ms > 0 and r.one_thread_ms > 0 and r.ratio > 0
    assert "default / 1 thread" in contention.table(results)


@pytest.mark.parametrize("arg", ["0", "x", "1,-2"])
def test_contention_option_rejects_bad_counts(arg, capsys):
    from fastgru.bench.cli import main

    assert main(["--contention", arg]) == 2
    assert "--contention" in capsys.readouterr().err


@needs_fork
def test_fork_while_another_thread_computes():
    """A parent thread inside a Light GRU call holds the model's lock (shared) when the process
    forks; in the child, a training forward (which takes it exclusively to update the running
    statistics) must not wait for that thread, which does not exist there."""
    import threading

    m = fastgru.GRU(16, 256, cell="ligru", seed=0)
    long_x = np.zeros((200000, 1, 16), np.float32)  # about 2 s
    small = np.random.default_rng(0).standard_normal((5, 3, 16)).astype(np.float32)
    busy = threading.Thread(target=m, args=(long_x,))
    busy.start()
    time.sleep(0.2)  # inside the core's forward by now
    pid = os.fork()
    if pid == 0:
        try:
            m.forward(small, training=True)
            m(small)
        finally:
            os._exit(0)
    try:
        _wait_for_child(pid, "fork child deadlocked on a lock held by a parent thread")
    finally:
        busy.join()


@needs_fork
def test_fork_while_another_thread_updates_running_statistics():
    """The Python-level lock of a Light GRU's running-statistics update, held by a parent thread
    at fork, is free in the child."""
    m = fastgru.GRU(16, 32, cell="ligru", seed=0)
    small = np.random.default_rng(0).standard_normal((5, 3, 16)).astype(np.float32)
    m._state_lock.acquire()  # as a parent thread inside _update_running_stats would hold it
    try:
        pid = os.fork()
        if pid == 0:
            try:
                m.forward(small, training=True)
            finally:
                os._exit(0)
        _wait_for_child(pid, "fork child deadlocked on the model's state lock")
    finally:
        m._state_lock.release()
