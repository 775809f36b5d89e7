"""Accuracy of fastgru's reduced-precision models (bf16, int8) against float32: max and mean abs error of y
(and h_n) on the standard inference workloads at their full sizes, beside OpenVINO's CPU default
(bf16 on CPUs with AVX512_BF16) on the same inputs, and on the GRU models of ONNX's own node
tests (loaded with fastgru.load_onnx).

    python bench/quantized_accuracy.py [--markdown]
"""

from __future__ import annotations

import argparse
import numpy as np

import fastgru
from fastgru.bench.runners import FastGRUQuantizedRunner, FastGRURunner, OpenVinoRunner
from fastgru.bench.workloads import make_cases, make_data


def errors(out: dict, ref: dict) -> tuple[float, float]:
    diffs = np.concatenate([np.abs(out[k] - ref[k]).ravel() for k in ref])
    return float(diffs.max()), float(diffs.mean())


def workload_rows() -> list[tuple[str, str, float, float]]:
    runners = [FastGRUQuantizedRunner(fastgru, "bf16"), FastGRUQuantizedRunner(fastgru, "int8")]
    try:
        import onnx
        import openvino

        runners.append(OpenVinoRunner(openvino, onnx, None, None))
    except ImportError:
        pass
    rows = []
    reference = FastGRURunner(fastgru)
    for case in make_cases(["S2", "S3", "S5"], full=True):
        data = make_data(case)
        ref = reference.prepare(case, data).output()
        for runner in runners:
            name = runner.name if runner.name != "openvino-default" else \
                f"openvino-default ({runner.inference_precision})"
            rows.append((f"{case.label} {case.size}", name, *errors(runner.prepare(case, data).output(), ref)))
    return rows


def onnx_node_rows() -> list[tuple[str, str, float, float]]:
    """ONNX's GRU conformance cases (their W, R, B made initializers so load_onnx takes them)."""
    try:
        import onnx
        from onnx import numpy_helper
        from onnx.backend.test.case import node as node_cases
    except ImportError:
        return []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # other operators' case generators warn
        cases = node_cases.collect_testcases("GRU")
    rows = []
    for case in cases:
        graph = case.model.graph
        (node,) = [n for n in graph.node if n.op_type == "GRU"]
        feeds = {vi.name: np.asarray(a) for vi, a in zip(graph.input, case.data_sets[0][0])}
        weights = [n for n in node.input[1:4] if n]
        model = onnx.ModelProto()
        model.CopyFrom(case.model)
        keep = [vi for vi in model.graph.input if vi.name not in weights]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        model.graph.initializer.extend(numpy_helper.from_array(feeds[n], n) for n in weights)
        (gru,) = fastgru.load_onnx(model).values()
        if gru.dtype != np.float32 or (len(node.input) > 4 and node.input[4]):
            continue  # float64 cases; sequence_lens cases are covered by the workloads' lengths-free runs
        x = feeds[node.input[0]]
        h0 = feeds[node.input[5]] if len(node.input) > 5 and node.input[5] else None
        y, h = gru(x, h0)
        for precision in ("bf16", "int8"):
            yq, hq = gru.quantized(precision)(x, h0)
            rows.append((case.name, f"fastgru-{precision}", *errors({"y": yq, "h": hq}, {"y": y, "h": h})))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args()
    rows = workload_rows() + onnx_node_rows()
    if args.markdown:
        print("| inputs | model | max abs error | mean abs error |\n|---|---|---|---|")
        for what, name, mx, mean in rows:
            print(f"| {what} | {name} | {mx:.2e} | {mean:.2e} |")
    else:
        for what, name, mx, mean in rows:
            print(f"{what:34s} {name:32s} max {mx:.2e}  mean {mean:.2e}")


if __name__ == "__main__":
    main()
