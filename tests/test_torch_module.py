"""fastgru.torch.GRU, the torch.nn.Module on fastgru's core: nn.GRU's interface, outputs and every
gradient, gradcheck, PackedSequence, dropout, training parity, repacking, errors, and imports."""

import copy
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from tolerances import EXACT, F32, F64, TORCH, assert_close

torch = pytest.importorskip("torch")
import fastgru.torch as ft  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

NP = {torch.float32: F32, torch.float64: F64}
TDTYPES = [torch.float32, torch.float64]
# Training losses of the same model with nn.GRU and with fastgru.torch.GRU after a few optimizer
# steps: each step's gradients agree to TORCH, and Adam's normalised step moves each weight by
# about lr whatever the gradient's size, so the weights drift apart by ~TORCH-relative amounts
# per step; a loss is a mean over outputs in (-1, 1).
LOSS_RTOL = {torch.float32: 1e-4, torch.float64: 1e-9}


def _pair(dtype, seed=0, **kw):
    """nn.GRU and fastgru.torch.GRU with the same configuration, from the same torch seed."""
    torch.manual_seed(seed)
    ref = torch.nn.GRU(dtype=dtype, **kw)
    torch.manual_seed(seed)
    fast = ft.GRU(dtype=dtype, **kw)
    return ref, fast


def _grads(module, x, hx, run):
    """(outputs..., grad of x, grad of hx, grad of every parameter) after a random-cotangent backward."""
    module.zero_grad()
    x = x.detach().clone().requires_grad_()
    hx = None if hx is None else hx.detach().clone().requires_grad_()
    outs = run(module, x, hx)
    gen = torch.Generator().manual_seed(123)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    loss.backward()
    return ([o.detach() for o in outs] + [x.grad] + ([] if hx is None else [hx.grad])
            + [p.grad for p in module.parameters()])


def _plain(module, x, hx):
    return module(x, hx)


def _packed(enforce_sorted, lengths, batch_first):
    def run(module, x, hx):
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        out, h_n = module(packed, hx)
        y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])
        return y, h_n
    return run


CONFIGS = [dict(num_layers=L, bidirectional=bi, batch_first=bf, bias=bias)
           for L, bi, bf, bias in [(1, False, False, True), (1, True, True, True), (2, False, True, True),
                                   (2, True, False, True), (2, True, True, False)]]


def _cid(c):
    return (f"L{c['num_layers']}{'-bi' if c['bidirectional'] else ''}{'-bf' if c['batch_first'] else ''}"
            f"{'' if c['bias'] else '-nobias'}")


@pytest.mark.parametrize("dtype", TDTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("inp", ["tensor", "unbatched", "packed-sorted", "packed-unsorted"])
@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no-hx"])
@pytest.mark.parametrize("c", CONFIGS, ids=[_cid(c) for c in CONFIGS])
def test_matches_nn_gru(c, with_hx, inp, dtype):
    D, H, T, B = 3, 5, 6, 4
    ref, fast = _pair(dtype, input_size=D, hidden_size=H, **c)
    for (n1, p1), (n2, p2) in zip(ref.named_parameters(), fast.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)  # same names, order and initial values
    gen = torch.Generator().manual_seed(7)
    dirs = 2 if c["bidirectional"] else 1
    if inp == "unbatched":
        x = torch.randn(T, D, generator=gen, dtype=dtype)
        hx = torch.randn(c["num_layers"] * dirs, H, generator=gen, dtype=dtype)
    else:
        x = torch.randn((B, T, D) if c["batch_first"] else (T, B, D), generator=gen, dtype=dtype)
        hx = torch.randn(c["num_layers"] * dirs, B, H, generator=gen, dtype=dtype)
    hx = hx if with_hx else None
    if inp.startswith("packed"):
        sorted_ = inp == "packed-sorted"
        lengths = torch.tensor([6, 4, 4, 1] if sorted_ else [4, 6, 1, 4])
        run = _packed(sorted_, lengths, c["batch_first"])
    else:
        run = _plain
    tol = TORCH[NP[dtype]]
    got, want = _grads(fast, x, hx, run), _grads(ref, x, hx, run)
    names = ["y", "h_n", "d input"] + (["d hx"] if with_hx else []) + [f"d {n}" for n, _ in ref.named_parameters()]
    assert len(got) == len(want) == len(names)
    for name, g, w in zip(names, got, want):
        assert g.dtype == w.dtype, name
        assert_close(g.numpy(), w.numpy(), tol, f"{inp} {name}")


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_output_is_like_nn_gru(enforce_sorted):
    ref, fast = _pair(torch.float32, input_size=2, hidden_size=3, bidirectional=True)
    lengths = torch.tensor([5, 3, 3, 2] if enforce_sorted else [3, 5, 2, 3])
    packed = pack_padded_sequence(torch.randn(5, 4, 2), lengths, enforce_sorted=enforce_sorted)
    (out, h_n), (rout, rh_n) = fast(packed), ref(packed)
    assert type(out) is type(rout)
    assert torch.equal(out.batch_sizes, rout.batch_sizes)
    for a, b in ((out.sorted_indices, rout.sorted_indices), (out.unsorted_indices, rout.unsorted_indices)):
        assert (a is None and b is None) or torch.equal(a, b)
    assert_close(out.data.detach().numpy(), rout.data.detach().numpy(), TORCH[F32], "packed data")
    assert_close(h_n.detach().numpy(), rh_n.detach().numpy(), TORCH[F32], "h_n")


@pytest.mark.parametrize("kind", ["tensor", "packed", "parameters"])
def test_gradcheck_float64(kind):
    torch.manual_seed(0)
    gru = ft.GRU(2, 3, num_layers=2, bidirectional=True, dtype=torch.float64)
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    if kind == "tensor":
        assert torch.autograd.gradcheck(lambda x, h: gru(x, h), (x, hx))
    elif kind == "packed":
        lengths = torch.tensor([2, 3])

        def f(x, h):
            out, h_n = gru(pack_padded_sequence(x, lengths, enforce_sorted=False), h)
            return out.data, h_n
        assert torch.autograd.gradcheck(f, (x, hx))
    else:
        names = [n for n, _ in gru.named_parameters()]
        params = [p.detach().clone().requires_grad_() for p in gru.parameters()]

        def f(*ws):
            return torch.func.functional_call(gru, dict(zip(names, ws)), (x.detach(), hx.detach()))
        assert torch.autograd.gradcheck(f, tuple(params))


def test_gradcheck_with_dropout_in_training():
    # The backward uses the forward's mask: reseeding torch before each forward fixes the mask.
    torch.manual_seed(0)
    gru = ft.GRU(2, 3, num_layers=3, dropout=0.4, dtype=torch.float64).train()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)

    def f(x):
        torch.manual_seed(11)
        return gru(x)[0]
    assert torch.autograd.gradcheck(f, (x,))


def test_dropout():
    ref, fast = _pair(torch.float32, input_size=3, hidden_size=4, num_layers=3, dropout=0.5)
    x = torch.randn(5, 2, 3)
    ref.eval(), fast.eval()
    assert_close(fast(x)[0].detach().numpy(), ref(x)[0].detach().numpy(), TORCH[F32], "eval: no dropout")
    no_drop = fast(x)[0].detach()
    fast.train()
    torch.manual_seed(3)
    a = fast(x)[0].detach()
    torch.manual_seed(3)
    with torch.no_grad():
        b = fast(x)[0]  # the inference path draws the same seed
    c = fast(x)[0].detach()  # the generator moved on: another mask
    assert torch.equal(a, b)
    assert not torch.allclose(a, c) and not torch.allclose(a, no_drop)
    one_layer = ft.GRU(3, 4)  # dropout needs two layers: nothing drawn, nothing dropped
    state = torch.get_rng_state()
    one_layer.train()(x)
    assert torch.equal(state, torch.get_rng_state())


class _Net(torch.nn.Module):
    def __init__(self, rnn, hidden):
        super().__init__()
        self.rnn, self.head = rnn, torch.nn.Linear(hidden, 1, dtype=rnn.weight_ih_l0.dtype)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y)


@pytest.mark.parametrize("dtype", TDTYPES, ids=["f32", "f64"])
def test_training_parity(dtype):
    # The same model with nn.GRU swapped for fastgru.torch.GRU trains to the same losses.
    kw = dict(input_size=2, hidden_size=8, num_layers=2, batch_first=True, bidirectional=True)
    torch.manual_seed(0)
    ref = _Net(torch.nn.GRU(dtype=dtype, **kw), 16)
    fast = _Net(ft.GRU(dtype=dtype, **kw), 16)
    fast.load_state_dict(ref.state_dict())
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 12, 2, generator=gen, dtype=dtype)
    target = x[..., :1].cumsum(1) / torch.arange(1, 13, dtype=dtype)[:, None]
    losses = {}
    for name, net in (("ref", ref), ("fast", fast)):
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        losses[name] = []
        for _ in range(8):
            loss = torch.nn.functional.mse_loss(net(x), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
    assert losses["fast"] == pytest.approx(losses["ref"], rel=LOSS_RTOL[dtype])
    assert losses["fast"][-1] < losses["fast"][0]


def test_repacks_when_weights_change():
    # In-place changes by every route are seen: torch ops, .data (no version bump), an optimizer,
    # torch.func.functional_call, load_state_dict.
    torch.manual_seed(0)
    ref, fast = torch.nn.GRU(3, 4), ft.GRU(3, 4)
    x = torch.randn(4, 2, 3)

    def check(what):
        fast.load_state_dict(fast.state_dict())  # no-op for values; ref follows fast below
        ref.load_state_dict(fast.state_dict())
        assert_close(fast(x)[0].detach().numpy(), ref(x)[0].detach().numpy(), TORCH[F32], what)

    check("initial")
    core = fast._packed[2]
    fast(x)
    assert fast._packed[2] is core  # same values: the packed core is reused
    with torch.no_grad():
        fast.weight_hh_l0.mul_(0.5)
    check("in-place op")
    fast.weight_ih_l0.data.add_(0.1)
    check(".data")
    opt = torch.optim.SGD(fast.parameters(), lr=0.5)
    fast(x)[0].sum().backward()
    opt.step()
    check("optimizer step")
    other = {n: torch.zeros_like(p) for n, p in fast.named_parameters()}
    y0 = torch.func.functional_call(fast, other, (x,))[0]
    assert torch.count_nonzero(y0) == 0  # zero weights, zero state: zero output
    check("after functional_call")
    fast.load_state_dict({n: torch.randn_like(p) for n, p in fast.named_parameters()})
    check("load_state_dict")
    fast.double()
    y = fast(x.double())[0]
    assert y.dtype == torch.float64
    assert_close(y.detach().numpy(), ref.double()(x.double())[0].detach().numpy(), TORCH[F64], "double()")


def test_no_grad_path_and_unused_outputs():
    ref, fast = _pair(torch.float64, input_size=3, hidden_size=4, num_layers=2)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        y_ng, h_ng = fast(x)
    y, h = fast(x)
    assert not y_ng.requires_grad and y.requires_grad
    assert_close(y_ng.numpy(), y.detach().numpy(), EXACT[F64], "no_grad y")
    with torch.inference_mode():
        y_inf, _ = fast(x)
    assert_close(y_inf.numpy(), y.detach().numpy(), EXACT[F64], "inference_mode y")
    # Only h_n used (y's gradient is None inside), and only y used.
    for pick in (1, 0):
        grads = []
        for m in (fast, ref):
            m.zero_grad()
            xx = x.clone().requires_grad_()
            m(xx)[pick].square().sum().backward()
            grads.append([xx.grad] + [p.grad for p in m.parameters()])
        for g, w in zip(*grads):
            assert_close(g.numpy(), w.numpy(), TORCH[F64], f"output {pick} only")


def test_frozen_parameters_get_no_gradient():
    fast = ft.GRU(3, 4)
    fast.weight_ih_l0.requires_grad_(False)
    fast(torch.randn(2, 1, 3))[0].sum().backward()
    assert fast.weight_ih_l0.grad is None and fast.weight_hh_l0.grad is not None
    x = torch.randn(2, 1, 3)
    for p in fast.parameters():
        p.requires_grad_(False)
    y, _ = fast(x)  # nothing requires grad: the inference path
    assert not y.requires_grad


def test_module_interface():
    ref, fast = _pair(torch.float32, input_size=3, hidden_size=4, num_layers=2, dropout=0.25, batch_first=True,
                      bidirectional=True, bias=False)
    assert repr(fast) == repr(ref)
    assert list(fast.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(fast.state_dict())
    fast.load_state_dict(ref.state_dict())
    for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
                 "proj_size", "mode"):
        assert getattr(fast, attr) == getattr(ref, attr), attr
    assert [[p.shape for p in ws] for ws in fast.all_weights] == [[p.shape for p in ws] for ws in ref.all_weights]
    fast.flatten_parameters()
    fast.eval()  # no dropout: the copies must give the same outputs
    x = torch.randn(2, 5, 3)
    y = fast(x)[0]
    for clone in (copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):
        assert_close(clone(x)[0].detach().numpy(), y.detach().numpy(), EXACT[F32], "copy")
    assert ft.torch is sys.modules["torch"] and hasattr(ft.torch, "nn")  # the real torch, not fastgru.torch
    torch.manual_seed(0)
    assert ft.GRU(3, 4, dtype=None).weight_ih_l0.dtype == torch.get_default_dtype()


def test_double_backward_is_refused():
    fast = ft.GRU(2, 3, dtype=torch.float64)
    x = torch.randn(3, 1, 2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="first-order gradients only.*create_graph=True"):
        torch.autograd.grad(fast(x)[0].sum(), x, create_graph=True)
    (gx,) = torch.autograd.grad(fast(x)[0].sum(), x)  # first order is fine
    assert gx.shape == x.shape


def test_constructor_errors():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        ft.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="CPU only"):
        ft.GRU(3, 4, device="cuda")
    with pytest.raises(TypeError, match="float32 and torch.float64"):
        ft.GRU(3, 4, dtype=torch.float16)
    with pytest.raises(ValueError, match=r"range \[0, 1\]"):
        ft.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="dropout < 1"):
        ft.GRU(3, 4, num_layers=2, dropout=1.0)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ft.GRU(3, 4, dropout=0.5)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        ft.GRU(3, 4.0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        ft.GRU(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="bias should be of type bool"):
        ft.GRU(3, 4, bias=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ft.GRU(3, 4, nonlinearity="relu")


def test_forward_errors():
    fast = ft.GRU(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match=r"input dtype \(torch.float64\) does not match weight dtype"):
        fast(x.double())
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        fast(x[None])
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 2"):
        fast(x[..., :2])
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 4\), got \[2, 3, 4\]"):
        fast(x, torch.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D"):
        fast(x, torch.zeros(2, 4))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D"):
        fast(x[:, 0], torch.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="hx dtype"):
        fast(x, torch.zeros(2, 2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="Tensor or a PackedSequence"):
        fast(x.numpy())
    # Tensors on another device: CUDA where there is one, else the meta device stands in.
    device = "cuda" if torch.cuda.is_available() else "meta"
    with pytest.raises(RuntimeError, match=f"CPU only, but input is on {device}"):
        fast(x.to(device))
    with pytest.raises(RuntimeError, match=f"CPU only, but hx is on {device}"):
        fast(x, torch.zeros(2, 2, 4, device=device))
    moved = copy.deepcopy(fast).to(device)
    with pytest.raises(RuntimeError, match=f"CPU only, but parameter weight_ih_l0 is on {device}"):
        moved(x)
    with pytest.raises(TypeError, match="float32 or float64, but its parameters are torch.float16"):
        copy.deepcopy(fast).half()(x.half())


def test_import_without_torch():
    # torch is optional: `import fastgru` does not import it, and fastgru.torch says how to get it.
    code = (
        "import sys\n"
        "import fastgru\n"
        "assert 'torch' not in sys.modules and 'fastgru.torch' not in sys.modules, sorted(sys.modules)\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "try:\n"
        "    import fastgru.torch\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    with warnings.catch_warnings():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'fastgru[torch]'" in out.stdout, out.stdout
