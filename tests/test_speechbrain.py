"""GRU.from_speechbrain: SpeechBrain's LiGRU / SLiGRU (speechbrain.nnet.RNN) as fastgru models.

Two oracles:
- always: a NumPy implementation of SpeechBrain's own forward pass, in its own layout (rows
  [candidate; z], both directions of a layer sharing one set of weights and running on the
  flipped sequence, the normalization applied to the (batch * time) rows), on modules faked from
  plain arrays — independent of fastgru's mapping;
- where speechbrain imports (its torchaudio import stubbed): the real modules, in eval mode
  (running statistics) and train mode (batch statistics, the running-statistics update and
  gradients against torch's autograd).
"""

import importlib.util
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest

import fastgru
from tolerances import FORWARD, GRAD, TORCH, assert_close

LN_EPS = 1e-5


# ----------------------------------------------------------------------------------------------
# Fake SpeechBrain modules (plain arrays) and SpeechBrain's forward in NumPy.

class LiGRU(SimpleNamespace):  # the class names are what from_speechbrain reads
    pass


class SLiGRU(SimpleNamespace):
    pass


def _fake(kind, rng, D, H, L, bidir, norm, nonlinearity, dtype):
    layers, din = [], D
    for _ in range(L):
        lay = SimpleNamespace(w=SimpleNamespace(weight=rng.uniform(-0.6, 0.6, (2 * H, din)).astype(dtype)),
                              u=SimpleNamespace(weight=rng.uniform(-0.6, 0.6, (2 * H, H)).astype(dtype)),
                              act=SimpleNamespace(negative_slope=0.01))
        if norm == "batchnorm":
            lay.norm = SimpleNamespace(weight=rng.uniform(0.5, 1.5, 2 * H).astype(dtype),
                                       bias=rng.uniform(-0.3, 0.3, 2 * H).astype(dtype),
                                       running_mean=rng.uniform(-0.3, 0.3, 2 * H).astype(dtype),
                                       running_var=rng.uniform(0.5, 2.0, 2 * H).astype(dtype),
                                       momentum=0.05, eps=1e-5, track_running_stats=True)
        else:
            lay.norm = SimpleNamespace(weight=rng.uniform(0.5, 1.5, 2 * H).astype(dtype),
                                       bias=rng.uniform(-0.3, 0.3, 2 * H).astype(dtype), eps=LN_EPS)
        if kind is SLiGRU:
            lay.layer_norm = SimpleNamespace(weight=None, bias=None, eps=LN_EPS)
        layers.append(lay)
        din = (2 if bidir else 1) * H
    return kind(rnn=layers, hidden_size=H, bidirectional=bidir, nonlinearity=nonlinearity)


def _ln(a, gamma=None, beta=None):
    a = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + LN_EPS)
    return a if gamma is None else gamma * a + beta


_ACT = {"relu": lambda a: np.maximum(a, 0.0), "tanh": np.tanh, "leaky_relu": lambda a: np.where(a >= 0, a, 0.01 * a)}


def speechbrain_forward(m, x):
    """SpeechBrain's LiGRU/SLiGRU forward in eval mode, float64, batch-first x (B, T, D) -> y."""
    H = m.hidden_size
    for lay in m.rnn:
        B = x.shape[0]
        if m.bidirectional:
            x = np.concatenate([x, x[:, ::-1]], axis=0)
        w = x @ np.asarray(lay.w.weight, np.float64).T
        n = lay.norm
        if hasattr(n, "running_mean"):
            w = n.weight * (w - n.running_mean) / np.sqrt(n.running_var + n.eps) + n.bias
        else:
            w = _ln(w, n.weight, n.bias)
        h, out = np.zeros((x.shape[0], H)), []
        for t in range(x.shape[1]):
            u = h @ np.asarray(lay.u.weight, np.float64).T
            gates = w[:, t] + (_ln(u) if hasattr(lay, "layer_norm") else u)
            at, zt = gates[:, :H], gates[:, H:]
            z = 1 / (1 + np.exp(-zt))
            h = z * h + (1 - z) * _ACT[m.nonlinearity](at)
            out.append(h)
        y = np.stack(out, axis=1)
        if m.bidirectional:
            y = np.concatenate([y[:B], y[B:, ::-1]], axis=2)
        x = y
    return x


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "leaky_relu"])
@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("bidir", [False, True], ids=["unidir", "bidir"])
@pytest.mark.parametrize("kind", [LiGRU, SLiGRU], ids=["LiGRU", "SLiGRU"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_from_fake_module_matches_speechbrains_equations(rng, kind, bidir, norm, nonlinearity, dtype):
    m = _fake(kind, rng, D=3, H=5, L=2, bidir=bidir, norm=norm, nonlinearity=nonlinearity, dtype=dtype)
    gru = fastgru.GRU.from_speechbrain(m)
    assert gru.cell == ("sligru" if kind is SLiGRU else "ligru") and gru.batch_first and not gru.bias
    assert gru.normalization == norm and gru.activation == nonlinearity and gru.dtype == dtype
    if norm == "batchnorm":
        assert gru.bn_momentum == 0.05
    x = rng.standard_normal((4, 6, 3)).astype(dtype)
    y, h_n = gru(x)
    expected = speechbrain_forward(m, x.astype(np.float64))
    assert_close(y, expected, FORWARD[np.dtype(dtype)], "y")
    # fastgru's h_n is every direction's final state (the reverse one at t = 0)
    H = 5
    assert_close(h_n[-1 - bidir], expected[:, -1, :H], FORWARD[np.dtype(dtype)], "forward h_n")
    if bidir:
        assert_close(h_n[-1], expected[:, 0, H:], FORWARD[np.dtype(dtype)], "reverse h_n")


def test_refusals(rng):
    assert fastgru.GRU.from_speechbrain(_fake(LiGRU, rng, 3, 4, 1, False, "batchnorm", "sin", np.float32)
                                        ).activation == "sin"  # SpeechBrain's sin candidate is supported
    m = _fake(SLiGRU, rng, 3, 4, 1, False, "layernorm", "relu", np.float32)
    m.rnn[0].layer_norm.weight = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="elementwise_affine"):
        fastgru.GRU.from_speechbrain(m)
    m = _fake(LiGRU, rng, 3, 4, 1, False, "batchnorm", "relu", np.float32)
    m.rnn[0].norm.momentum = None
    with pytest.raises(ValueError, match="momentum=None"):
        fastgru.GRU.from_speechbrain(m)
    with pytest.raises(TypeError, match="LiGRU or SLiGRU"):
        fastgru.GRU.from_speechbrain(SimpleNamespace(rnn=[]))


# ----------------------------------------------------------------------------------------------
# The real SpeechBrain.

@pytest.fixture(scope="module")
def sb_rnn():
    """speechbrain.nnet.RNN, imported without running speechbrain/__init__.py (which pulls in its
    whole toolkit) and with a stub for torchaudio where that is not installed."""
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("speechbrain") is None:
        pytest.skip("speechbrain is not installed")
    if "speechbrain.nnet.RNN" in sys.modules:
        return sys.modules["speechbrain.nnet.RNN"], torch
    added = []
    if "speechbrain" not in sys.modules:
        pkg = types.ModuleType("speechbrain")
        pkg.__path__ = list(importlib.util.find_spec("speechbrain").submodule_search_locations)
        sys.modules["speechbrain"] = pkg
    if importlib.util.find_spec("torchaudio") is None:
        for name in ("torchaudio", "torchaudio.transforms", "torchaudio.functional"):
            sys.modules[name] = types.ModuleType(name)
            added.append(name)
        sys.modules["torchaudio"].__version__ = "0.0.0"
    try:
        import speechbrain.nnet.RNN as rnn
    except ImportError as e:  # a dependency of speechbrain's that is not installed
        pytest.skip(f"speechbrain.nnet.RNN does not import here: {e}")
    finally:
        for name in added:
            sys.modules.pop(name, None)
    return rnn, torch


def _sb_module(sb_rnn, kind, norm, nonlinearity, bidir, dtype, seed=0):
    rnn, torch = sb_rnn
    torch.manual_seed(seed)
    cls = rnn.SLiGRU if kind == "SLiGRU" else rnn.LiGRU
    extra = dict(ff_normalization=norm) if kind == "SLiGRU" else dict(normalization=norm)
    m = cls(hidden_size=5, input_shape=(4, 6, 3), nonlinearity=nonlinearity, num_layers=2, bias=True,
            bidirectional=bidir, **extra)
    with torch.no_grad():  # trained-looking normalization parameters and statistics
        for lay in m.rnn:
            lay.norm.weight.uniform_(0.5, 1.5)
            lay.norm.bias.uniform_(-0.3, 0.3)
            if norm == "batchnorm":
                lay.norm.running_mean.uniform_(-0.3, 0.3)
                lay.norm.running_var.uniform_(0.5, 2.0)
    return m.double() if dtype == np.float64 else m


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "leaky_relu"])
@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("bidir", [False, True], ids=["unidir", "bidir"])
@pytest.mark.parametrize("kind", ["LiGRU", "SLiGRU"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_matches_speechbrain_in_eval_mode(sb_rnn, rng, kind, bidir, norm, nonlinearity, dtype):
    _, torch = sb_rnn
    m = _sb_module(sb_rnn, kind, norm, nonlinearity, bidir, dtype).eval()
    gru = fastgru.GRU.from_speechbrain(m)
    x = rng.standard_normal((4, 6, 3)).astype(dtype)
    with torch.no_grad():
        y_sb, h_sb = m(torch.from_numpy(x))
    y, h_n = gru(x)
    assert_close(y, y_sb.numpy(), TORCH[np.dtype(dtype)], "y")
    if not bidir:  # SpeechBrain's h is the final state only for one direction
        assert_close(h_n, h_sb.numpy(), TORCH[np.dtype(dtype)], "h")


@pytest.mark.parametrize("bidir", [False, True], ids=["unidir", "bidir"])
@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("kind", ["LiGRU", "SLiGRU"])
def test_matches_speechbrain_in_training(sb_rnn, rng, kind, norm, bidir):
    """Train mode (no recurrent dropout): batch statistics, the running-statistics update with
    SpeechBrain's momentum 0.05, and every gradient against torch's autograd (float64)."""
    _, torch = sb_rnn
    m = _sb_module(sb_rnn, kind, norm, "relu", bidir, np.float64).train()
    gru = fastgru.GRU.from_speechbrain(m)
    old_var = [lay.norm.running_var.clone().numpy() for lay in m.rnn] if norm == "batchnorm" else None
    x = rng.standard_normal((4, 6, 3))
    xt = torch.from_numpy(x).requires_grad_(True)
    y_sb, _ = m(xt)
    dy = rng.standard_normal(y_sb.shape)
    (y_sb * torch.from_numpy(dy)).sum().backward()
    y, _, cache = gru.forward(x, training=True)
    assert_close(y, y_sb.detach().numpy(), TORCH[np.dtype(np.float64)], "training y")
    grads = gru.backward(cache, dy)
    assert_close(grads["x"], xt.grad.numpy(), GRAD[np.dtype(np.float64)], "dx")
    H = 5
    swap = lambda a: np.concatenate([a[H:], a[:H]])  # noqa: E731  SpeechBrain's [candidate; z] order
    for k, lay in enumerate(m.rnn):
        # Both directions share SpeechBrain's weights: its gradient is the sum of fastgru's two.
        suffixes = [f"_l{k}", f"_l{k}_reverse"] if bidir else [f"_l{k}"]
        pairs = [("weight_ih", lay.w.weight), ("weight_hh", lay.u.weight)]
        pairs += ([("bn_weight", lay.norm.weight), ("bn_bias", lay.norm.bias)] if norm == "batchnorm"
                  else [("ln_weight", lay.norm.weight), ("ln_bias", lay.norm.bias)])
        for name, p in pairs:
            ours = sum(grads[name + s] for s in suffixes)
            assert_close(ours, swap(p.grad.numpy()), GRAD[np.dtype(np.float64)], f"d{name}_l{k}")
        if norm == "batchnorm":
            # A bidirectional SpeechBrain layer normalises both directions' rows together (the same
            # rows, time-reversed: equal statistics), so its unbiased variance divides by 2N - 1 where
            # each of fastgru's directions divides by N - 1 (N = batch * steps).
            mom, N = 0.05, x.shape[0] * x.shape[1]
            old, new = swap(old_var[k]), swap(lay.norm.running_var.numpy())
            n_sb = 2 * N if bidir else N
            biased = (new - (1 - mom) * old) / mom * (n_sb - 1) / n_sb
            expected_var = (1 - mom) * old + mom * biased * N / (N - 1)
            for s in suffixes:
                assert_close(getattr(gru, "bn_running_mean" + s), swap(lay.norm.running_mean.numpy()),
                             TORCH[np.dtype(np.float64)], "bn_running_mean" + s)
                assert_close(getattr(gru, "bn_running_var" + s), expected_var, TORCH[np.dtype(np.float64)],
                             "bn_running_var" + s)
