"""Swapping torch.nn.GRU for fastgru.torch.GRU in a PyTorch model.

fastgru.torch.GRU takes nn.GRU's arguments, has its parameters and state_dict, and accepts the
same inputs (PackedSequence included); forward and backward run on fastgru's CPU core. Here a
small classifier (is the sum of a variable-length sequence positive?) is built twice, once with
each GRU, from the same weights, and trained with the same Adam steps: the losses agree to float32
rounding and go down. The trained state_dict loads into the nn.GRU model as it is.

    python examples/torch_module.py
"""
# requires: torch

import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence

import fastgru.torch


class Classifier(torch.nn.Module):
    def __init__(self, rnn_class):
        super().__init__()
        self.rnn = rnn_class(input_size=1, hidden_size=32, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(32, 1)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(packed)             # h_n: each sequence's state at its own last step
        return self.head(h_n[-1]).squeeze(-1)


torch.manual_seed(0)
x = torch.randn(64, 40, 1)
lengths = torch.randint(5, 41, (64,))
mask = torch.arange(40)[None, :] < lengths[:, None]
labels = ((x[..., 0] * mask).sum(1) > 0).float()

ref = Classifier(torch.nn.GRU)
fast = Classifier(fastgru.torch.GRU)
fast.load_state_dict(ref.state_dict())        # same names and shapes: nn.GRU's weights as they are

losses, seconds = {}, {}
for name, model in (("nn.GRU", ref), ("fastgru.torch.GRU", fast)):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses[name] = []
    start = time.perf_counter()
    for step in range(30):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, lengths), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[name].append(loss.item())
    seconds[name] = time.perf_counter() - start

for step in range(0, 30, 5):
    print(f"step {step:2d}  nn.GRU {losses['nn.GRU'][step]:.5f}  fastgru {losses['fastgru.torch.GRU'][step]:.5f}")
print(f"30 steps: nn.GRU {seconds['nn.GRU']:.2f} s, fastgru.torch.GRU {seconds['fastgru.torch.GRU']:.2f} s")
worst = max(abs(a - b) / abs(b) for a, b in zip(losses["fastgru.torch.GRU"], losses["nn.GRU"]))
print(f"largest relative loss difference: {worst:.1e}")
assert worst < 1e-3, worst
assert losses["fastgru.torch.GRU"][-1] < 0.5 * losses["fastgru.torch.GRU"][0], losses["fastgru.torch.GRU"]
ref.load_state_dict(fast.state_dict())        # and back
print("ok")
