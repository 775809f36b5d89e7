"""Command line: python -m fastgru {info,bench,demo} (also installed as `fastgru`)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__


def _info(as_json: bool) -> int:
    import fastgru

    info = fastgru.info()
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        print(f"{key:15s} {', '.join(value) if isinstance(value, list) else value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fastgru", description="fastgru: a fast GRU for the CPU.")
    parser.add_argument("--version", action="version", version=f"fastgru {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{info,bench,demo}")
    commands.required = True
    info = commands.add_parser("info", help="version, ISAs compiled / supported / in use, threads")
    info.add_argument("--json", action="store_true", help="print it as one JSON object")
    commands.add_parser("bench", add_help=False,
                        help="time fastgru beside PyTorch, ONNX Runtime and OpenVINO (bench --help)")
    commands.add_parser("demo", help="a tour of what fastgru does, with figures from this machine")
    return parser


def _run(argv: list[str]) -> int:
    # bench has its own parser (fastgru.bench.cli): hand it everything after the word.
    if argv[:1] == ["bench"]:
        from .bench.cli import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "info":
        return _info(args.json)
    from ._demo import demo

    return demo()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        code = _run(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`fastgru info | head -1`): stop quietly, as Unix tools do. Later
        # writes go nowhere, so Python's final flush of stdout raises nothing either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


if __name__ == "__main__":
    sys.exit(main())
