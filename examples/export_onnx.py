"""Exporting a fastgru model to ONNX and running it in ONNX Runtime, with variable lengths.

    python examples/export_onnx.py
"""
# requires: onnx, onnxruntime

import os
import tempfile

import numpy as np
import onnxruntime as ort

import fastgru

model = fastgru.GRU(16, 64, num_layers=2, bidirectional=True, seed=0)
path = os.path.join(tempfile.mkdtemp(), "gru.onnx")
# One ONNX GRU node per layer; T and B stay dynamic. Inputs: x, int32 lengths (sequence_lens=True)
# and h0 (initial_h=True; without it the model runs from a zero state, on x alone).
model.to_onnx(path, sequence_lens=True, initial_h=True)

x = np.random.default_rng(0).standard_normal((30, 5, 16)).astype(np.float32)
lengths = np.array([30, 12, 1, 30, 7], np.int32)
h0 = model.initial_state(5)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
feeds = {"x": x, "h0": h0, "lengths": lengths}  # the model's inputs, named as gru(x, h0, lengths)
got_y, got_h = session.run(None, feeds)
want_y, want_h = model(x, h0, lengths)
err = max(np.abs(got_y - want_y).max(), np.abs(got_h - want_h).max())
print(f"exported {model} to {os.path.basename(path)}: inputs {[i.name for i in session.get_inputs()]}")
print(f"max |ONNX Runtime - fastgru|: {err:.2e}")
assert err < 1e-5

# And back: each GRU node loads as a one-layer model; stack joins them into the 2-layer one.
layers = fastgru.load_onnx(path)
back = fastgru.onnx.stack(list(layers.values()))
back_y, back_h = back(x, h0, lengths)
assert np.array_equal(back_y, want_y) and np.array_equal(back_h, want_h)
print(f"load_onnx: nodes {list(layers)} -> stacked {back}, same outputs bit for bit")
