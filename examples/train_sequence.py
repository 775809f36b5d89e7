"""Training a GRU with NumPy alone: fastgru's forward/backward and fastgru.optim.Adam.

The task is an echo: the model reads a random signal and must output it again, halved, DELAY
steps later, so it has to remember the last few inputs. The loss is the mean squared error of the
first output channel; each step draws a fresh batch, clips the gradient norm and takes one Adam
step. At the end the trained model runs in inference mode on data it has never seen, and the
script checks that its error is a small fraction of the error of always answering zero.

    python examples/train_sequence.py
"""

import numpy as np

import fastgru
from fastgru.optim import Adam, clip_grad_norm

DELAY, T, BATCH, STEPS = 3, 30, 32, 400
rng = np.random.default_rng(0)


def make_batch(n=BATCH):
    x = rng.uniform(-1, 1, (T, n, 1)).astype(np.float32)
    target = np.zeros((T, n), np.float32)
    target[DELAY:] = 0.5 * x[:-DELAY, :, 0]
    return x, target


gru = fastgru.GRU(input_size=1, hidden_size=24, seed=0)
opt = Adam(gru, lr=1e-2)
first = None
for step in range(STEPS + 1):
    x, target = make_batch()
    y, _, cache = gru.forward(x)               # training forward: keeps what backward needs
    err = y[..., 0] - target
    loss = float(np.mean(err ** 2))
    first = loss if first is None else first
    dy = np.zeros_like(y)
    dy[..., 0] = 2 * err / err.size             # d loss / d y
    grads = gru.backward(cache, dy)             # gradients of x, h0 and every parameter
    norm = clip_grad_norm(grads, max_norm=1.0)  # in place; returns the norm before clipping
    opt.step(grads)                             # one Adam update, one repack of the model
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss:.2e}  grad norm {norm:.2e}")

x, target = make_batch(256)                     # unseen data, inference
y, _ = gru(x)
test_loss = float(np.mean((y[..., 0] - target) ** 2))
baseline = float(np.mean(target ** 2))          # the error of always answering 0
print(f"held-out loss {test_loss:.2e}, always-zero baseline {baseline:.2e}, first training loss {first:.2e}")
assert test_loss < baseline / 100, (test_loss, baseline)
assert test_loss < first / 100, (test_loss, first)
print("ok")
