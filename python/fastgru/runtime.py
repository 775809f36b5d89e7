"""ISA choice, threads and build information."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from . import _core
from ._validation import check_size

__all__ = ["available_isas", "get_isa", "set_isa", "use_isa", "set_num_threads", "get_num_threads", "info"]


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
    """Threads per call (results do not depend on it: every split keeps the reduction order)."""
    _core.set_num_threads(check_size("num_threads", n, maximum=1024))


def get_num_threads() -> int:
    return int(_core.num_threads())


def info() -> dict[str, Any]:
    from . import __version__
    from .cuda import cuda_available, device_name

    return {
        "version": __version__,
        "isa": get_isa(),
        "isas_compiled": list(_core.compiled_isas()),
        "isas_supported": available_isas(),
        "num_threads": get_num_threads(),
        "cuda": bool(_core.cuda_compiled),  # compiled in (FASTGRU_CUDA=ON)
        "cuda_available": cuda_available(),  # and a device is visible
        "cuda_device": device_name(),  # its name, or None
    }
