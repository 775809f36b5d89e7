"""fastgru's benchmark harness: the standard workloads S1-S5 (bench/README.md), timed beside NumPy,
PyTorch, ONNX Runtime and OpenVINO when installed. Run it with ``python -m fastgru bench``; see
bench/README.md. Nothing here is imported by ``import fastgru``."""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    # Imported lazily so `import fastgru.bench` stays cheap.
    from .cli import main as _main

    return _main(argv)
