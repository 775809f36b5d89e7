"""fastgru against torch.nn.GRU: weight conversion both ways, forward, every gradient."""

import numpy as np
import pytest

import fastgru
from conftest import DTYPES, make_lengths
from tolerances import EXACT, TORCH, assert_close

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _random_configs(n, seed):
    """n random (D, H, T, B, L, bidir, batch_first, bias, lengths, h0, unbatched) tuples."""
    r = np.random.default_rng(seed)
    out = []
    for i in range(n):
        unbatched = i % 6 == 5
        out.append(dict(
            D=int(r.choice([1, 5, 8, 17])), H=int(r.choice([1, 7, 16, 33])),
            T=int(r.choice([1, 3, 9])), B=int(r.choice([1, 3, 4])),
            L=int(r.integers(1, 4)), bidir=bool(i % 2), batch_first=bool(r.integers(2)),
            bias=bool(i % 4 != 3), lengths=(not unbatched) and bool(i % 3 != 0),
            h0=bool(r.integers(2)), unbatched=unbatched))
    return out


CONFIGS = _random_configs(24, seed=2024)


def _cfg_id(c):
    return (f"D{c['D']}-H{c['H']}-T{c['T']}-B{c['B']}-L{c['L']}"
            f"{'-bi' if c['bidir'] else ''}{'-bf' if c['batch_first'] else ''}"
            f"{'' if c['bias'] else '-nobias'}{'-lens' if c['lengths'] else ''}"
            f"{'-h0' if c['h0'] else ''}{'-unbatched' if c['unbatched'] else ''}")


def _torch_gru(c, dtype, seed=0):
    torch.manual_seed(seed)
    return torch.nn.GRU(c["D"], c["H"], num_layers=c["L"], bias=c["bias"],
                        batch_first=c["batch_first"], bidirectional=c["bidir"],
                        dtype=TORCH_DTYPE[np.dtype(dtype)])


def _torch_run(m, x, h0, lengths, batch_first):
    if lengths is None:
        return m(x, h0)
    packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=batch_first,
                                  enforce_sorted=False)
    out, h_n = m(packed, h0)
    T = x.shape[1] if batch_first else x.shape[0]
    y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return y, h_n


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("c", CONFIGS, ids=[_cfg_id(c) for c in CONFIGS])
def test_against_torch(isa, rng, c, dtype):
    dtype = np.dtype(dtype)
    tol = TORCH[dtype]
    m = _torch_gru(c, dtype, seed=int(rng.integers(1 << 30)))
    gru = fastgru.GRU.from_torch(m)
    assert gru.dtype == dtype

    D, H, T, B, L = c["D"], c["H"], c["T"], c["B"], c["L"]
    dirs = 2 if c["bidir"] else 1
    if c["unbatched"]:
        x_shape, h_shape = (T, D), (L * dirs, H)
    else:
        x_shape = (B, T, D) if c["batch_first"] else (T, B, D)
        h_shape = (L * dirs, B, H)
    x = rng.standard_normal(x_shape).astype(dtype)
    h0 = rng.uniform(-1, 1, h_shape).astype(dtype) if c["h0"] else None
    lengths = make_lengths(rng, B, T) if c["lengths"] else None

    # torch, with autograd on x, h0 and every parameter.
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0 if h0 is not None else np.zeros(h_shape, dtype),
                       requires_grad=True)
    yt, hnt = _torch_run(m, xt, h0t, lengths, c["batch_first"])
    dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    dh_n = rng.standard_normal(tuple(hnt.shape)).astype(dtype)
    ((yt * torch.tensor(dy)).sum() + (hnt * torch.tensor(dh_n)).sum()).backward()

    y, h_n = gru(x, h0, lengths=lengths)
    assert_close(y, yt.detach().numpy(), tol, "y vs torch")
    assert_close(h_n, hnt.detach().numpy(), tol, "h_n vs torch")

    _, _, cache = gru.forward(x, h0, lengths=lengths, training=True)
    grads = gru.backward(cache, dy, dh_n)
    assert_close(grads["x"], xt.grad.numpy(), tol, "dx vs torch")
    assert_close(grads["h0"], h0t.grad.numpy(), tol, "dh0 vs torch")
    for name, p in m.named_parameters():
        assert_close(grads[name], p.grad.numpy(), tol, f"d{name} vs torch")
    assert set(grads) == {"x", "h0"} | {name for name, _ in m.named_parameters()}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("c", CONFIGS[:8], ids=[_cfg_id(c) for c in CONFIGS[:8]])
def test_round_trip_and_state_dict(c, dtype):
    dtype = np.dtype(dtype)
    m = _torch_gru(c, dtype, seed=7)
    gru = fastgru.GRU.from_torch(m)

    # Configuration carried over.
    for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first",
                 "bidirectional"):
        assert getattr(gru, attr) == getattr(m, attr), attr
    assert gru.reset_after is True

    # dropout is carried both ways.
    md = torch.nn.GRU(3, 4, num_layers=2, dropout=0.25, dtype=TORCH_DTYPE[dtype])
    assert fastgru.GRU.from_torch(md).dropout == 0.25
    assert fastgru.GRU.from_torch(md).to_torch().dropout == 0.25

    # state_dict: same names, same order, same shapes, same values as torch's.
    tsd = m.state_dict()
    sd = gru.state_dict()
    assert list(sd) == list(tsd)
    for name, t in tsd.items():
        assert sd[name].shape == tuple(t.shape), name
        assert sd[name].dtype == dtype, name
        assert_close(sd[name], t.numpy(), EXACT[dtype], f"from_torch {name}")

    # And back: a torch module with the same configuration and the very same weights.
    back = gru.to_torch()
    assert isinstance(back, torch.nn.GRU)
    for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first",
                 "bidirectional"):
        assert getattr(back, attr) == getattr(m, attr), attr
    bsd = back.state_dict()
    assert list(bsd) == list(tsd)
    for name, t in tsd.items():
        assert bsd[name].dtype == t.dtype, name
        assert_close(bsd[name].numpy(), t.numpy(), EXACT[dtype], f"to_torch {name}")


def test_fresh_model_state_dict_matches_torch_layout():
    # A model built by fastgru (not converted) already has torch's names and shapes.
    for L, bidir, bias in [(1, False, True), (2, True, True), (3, True, False)]:
        gru = fastgru.GRU(6, 5, num_layers=L, bidirectional=bidir, bias=bias, seed=1)
        m = torch.nn.GRU(6, 5, num_layers=L, bidirectional=bidir, bias=bias)
        sd, tsd = gru.state_dict(), m.state_dict()
        assert list(sd) == list(tsd)
        assert [v.shape for v in sd.values()] == [tuple(t.shape) for t in tsd.values()]


def test_to_torch_rejects_reset_before():
    # torch.nn.GRU has no reset_after=False form; converting it would be silently wrong.
    gru = fastgru.GRU(4, 3, reset_after=False, seed=0)
    with pytest.raises((ValueError, TypeError), match=r"reset_after"):
        gru.to_torch()
