"""Serving a model trained in PyTorch without PyTorch: convert once, save, load with NumPy only.

The torch model here is trained for a few steps on a toy task so its weights are not the initial
ones; in practice it is your checkpoint (`torch.load` + `load_state_dict`).

    python examples/import_torch_model.py
"""
# requires: torch

import os
import tempfile

import numpy as np
import torch

import fastgru

torch.manual_seed(0)
net = torch.nn.GRU(input_size=8, hidden_size=32, num_layers=2, batch_first=True, bidirectional=True)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.randn(16, 50, 8)
for _ in range(20):  # learn to output the running mean of the input's first channel
    y, _ = net(x)
    loss = ((y[..., 0] - x[..., 0].cumsum(1) / torch.arange(1, 51)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

# Convert, and save a file that loads with fastgru alone (no torch at serving time).
model = fastgru.GRU.from_torch(net)
path = os.path.join(tempfile.mkdtemp(), "gru.npz")
model.save(path)
served = fastgru.load(path)

test = torch.randn(4, 50, 8)
with torch.no_grad():
    want, want_h = net(test)
lengths = [50, 50, 50, 50]
got, got_h = served(test.numpy(), lengths=lengths)
err = max(np.abs(got - want.numpy()).max(), np.abs(got_h - want_h.numpy()).max())
print(f"converted {served}")
print(f"max |fastgru - torch| over outputs and final states: {err:.2e}")
assert err < 1e-5, "the converted model must agree with torch to float32 rounding"
