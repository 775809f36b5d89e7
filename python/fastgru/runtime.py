"""ISA choice, threads and build information."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from . import _core
from ._validation import check_size

__all__ = ["available_isas", "get_isa", "set_isa", "use_isa", "set_num_threads", "get_num_threads",
           "set_wait_policy", "get_wait_policy", "MAX_THREADS", "info"]

MAX_THREADS = 256  # the core's bound (threading/thread_count.h)


def available_isas() -> list[str]:
    """ISAs compiled into this build that this CPU can run, best last."""
    return list(_core.supported_isas())


def get_isa() -> str:
    """The ISA whose kernels run now."""
    return str(_core.active_isa())


def set_isa(name: str) -> None:
    """Runs the kernels of `name` ('scalar', 'avx2', 'avx512') from now on; ValueError when the
    name is unknown or this build or CPU cannot run it."""
    if not isinstance(name, str):
        raise TypeError(f"ISA name must be a str, got {type(name).__name__}")
    _core.set_isa(name)


@contextlib.contextmanager
def use_isa(name: str) -> Iterator[None]:
    """Runs the kernels of `name` inside the with-block, then restores the previous ISA."""
    previous = get_isa()
    set_isa(name)
    try:
        yield
    finally:
        set_isa(previous)


def set_num_threads(n: int) -> None:
    """Threads per call, at most MAX_THREADS (results do not depend on it: every split keeps the
    reduction order). The default is FASTGRU_NUM_THREADS, else the CPUs this process may use (its
    affinity mask, capped by a cgroup CPU quota)."""
    _core.set_num_threads(check_size("num_threads", n, maximum=MAX_THREADS))


def get_num_threads() -> int:
    return int(_core.num_threads())


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = 0


@contextlib.contextmanager
def use_num_threads(n: int | None) -> Iterator[None]:
    """Runs the block with `n` fastgru threads (None: as it is). The count is per process, so blocks
    running at once in several threads share one change of it: the first to enter saves the
    previous count, the last to leave restores it. Results do not depend on the count; only speed
    does. fastgru.dask and fastgru.ray run each worker's calls in one."""
    global _threads_users, _threads_saved
    if n is None:
        yield
        return
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = get_num_threads()
            set_num_threads(n)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                set_num_threads(_threads_saved)


def set_wait_policy(name: str) -> None:
    """How the pool's idle threads wait: "active" (spin 200 us before sleeping; fastest on a
    machine of one's own), "passive" (sleep at once), or "auto" (the default, or
    FASTGRU_WAIT_POLICY): active, but when the workers keep arriving late because other
    processes hold the cores, each call runs on its own thread for a while."""
    if not isinstance(name, str):
        raise TypeError(f"wait policy must be a str, got {type(name).__name__}")
    _core.set_wait_policy(name)


def get_wait_policy() -> str:
    return str(_core.wait_policy())


def info() -> dict[str, Any]:
    from . import __version__
    from .cuda import cuda_available, device_name

    return {
        "version": __version__,
        "isa": get_isa(),
        "isas_compiled": list(_core.compiled_isas()),
        "isas_supported": available_isas(),
        "num_threads": get_num_threads(),
        "wait_policy": get_wait_policy(),
        "cuda": bool(_core.cuda_compiled),  # compiled in (FASTGRU_CUDA=ON)
        "cuda_available": cuda_available(),  # and a device is visible
        "cuda_device": device_name(),  # its name, or None
    }
