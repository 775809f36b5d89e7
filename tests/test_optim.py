"""fastgru.optim: SGD / Adam / AdamW against torch.optim on the same gradients, clip_grad_norm
against torch.nn.utils.clip_grad_norm_, a training run that converges, the Light GRU's running
statistics, optimizer state, and the errors."""

import numpy as np
import pytest

import fastgru
from fastgru.optim import SGD, Adam, AdamW, clip_grad_norm, grad_norm
from tolerances import EXACT, F32, F64, Tol, assert_close

# The optimizer's parameters vs torch.optim's after STEPS updates on identical gradients. Both do
# the same operations in the same dtype; only rounding differs (torch's vectorised kernels may fuse
# a multiply-add, and round its Python scalars to float32 the same way NumPy does), ~1 ulp per
# operation, 5-8 operations per step, accumulated over the steps: 10 steps x 8 x 6e-8 ~ 5e-6 of the
# parameters' scale for float32. A wrong rule (a missing bias correction, momentum applied twice)
# is off by 1e-3 or more.
OPTIM = {F32: Tol(atol=1e-6, rtol=5e-6), F64: Tol(atol=1e-14, rtol=1e-13)}
# The total norm of float32 gradients: torch sums in float32, fastgru.optim in float64.
NORM_RTOL = {F32: 1e-6, F64: 1e-13}
STEPS = 10

DTYPES = [np.float32, np.float64]


def _model(dtype=np.float32, **kw):
    kw = {"num_layers": 2, "bidirectional": True, **kw}
    return fastgru.GRU(3, 4, seed=0, dtype=dtype, **kw)


def _random_grads(rng, model, scale=1.0):
    """A backward-shaped dict: every trained parameter's gradient plus x and h0."""
    grads = {k: (scale * rng.standard_normal(v.shape)).astype(model.dtype)
             for k, v in model.state_dict().items() if not k.startswith("bn_running")}
    grads["x"] = rng.standard_normal((5, 2, 3)).astype(model.dtype)
    grads["h0"] = rng.standard_normal((4, 2, 4)).astype(model.dtype)
    return grads


CASES = {
    "sgd": (lambda m: SGD(m, lr=0.1), "SGD", dict(lr=0.1)),
    "sgd-momentum": (lambda m: SGD(m, lr=0.05, momentum=0.9), "SGD", dict(lr=0.05, momentum=0.9)),
    "sgd-nesterov-wd": (lambda m: SGD(m, lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True), "SGD",
                        dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True)),
    "sgd-dampening-maximize": (lambda m: SGD(m, lr=0.02, momentum=0.5, dampening=0.3, maximize=True), "SGD",
                               dict(lr=0.02, momentum=0.5, dampening=0.3, maximize=True)),
    "adam": (lambda m: Adam(m, lr=1e-2), "Adam", dict(lr=1e-2)),
    "adam-wd-amsgrad": (lambda m: Adam(m, lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True),
                        "Adam", dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    "adam-low-beta1-maximize": (lambda m: Adam(m, lr=1e-2, betas=(0.3, 0.9), maximize=True), "Adam",
                                dict(lr=1e-2, betas=(0.3, 0.9), maximize=True)),  # lerp's other branch
    "adamw": (lambda m: AdamW(m, lr=1e-2), "AdamW", dict(lr=1e-2)),  # default weight_decay 1e-2
    "adamw-amsgrad": (lambda m: AdamW(m, lr=2e-2, weight_decay=0.3, amsgrad=True), "AdamW",
                      dict(lr=2e-2, weight_decay=0.3, amsgrad=True)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_optim(rng, case, dtype):
    torch = pytest.importorskip("torch")
    dtype = np.dtype(dtype)
    make, torch_name, torch_kw = CASES[case]
    model = _model(dtype)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.state_dict().items()}
    opt, topt = make(model), getattr(torch.optim, torch_name)(list(params.values()), **torch_kw, foreach=False)
    for step in range(STEPS):
        grads = _random_grads(rng, model, scale=10.0 ** (step % 3 - 1))  # magnitudes 0.1 .. 10
        if step == 3:
            grads["bias_hh_l1"] = None  # skipped, as torch skips a parameter whose .grad is None
        opt.step(grads)
        for k, p in params.items():
            p.grad = None if grads[k] is None else torch.tensor(grads[k])
        topt.step()
        for k, p in params.items():
            assert_close(getattr(model, k), p.detach().numpy(), OPTIM[dtype], f"{case} step {step} {k}")
    # The per-parameter step counts agree too (the skipped parameter is one behind).
    if torch_name != "SGD":
        for k, p in params.items():
            assert opt.state[k]["step"] == int(topt.state[p]["step"]), k


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_real_gradients_match_torch(rng, dtype):
    # The dict model.backward returns (x and h0 included) goes straight into step().
    torch = pytest.importorskip("torch")
    dtype = np.dtype(dtype)
    model = _model(dtype)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.state_dict().items()}
    opt, topt = Adam(model, lr=5e-2), torch.optim.Adam(list(params.values()), lr=5e-2, foreach=False)
    x = rng.standard_normal((5, 2, 3)).astype(dtype)
    for step in range(5):
        y, h_n, cache = model.forward(x)
        grads = model.backward(cache, 2 * y, h_n)
        opt.step(grads)
        for k, p in params.items():
            p.grad = torch.tensor(grads[k])
        topt.step()
    for k, p in params.items():
        assert_close(getattr(model, k), p.detach().numpy(), OPTIM[dtype], k)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clipped / not clipped
def test_clip_grad_norm_matches_torch(rng, dtype, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    dtype = np.dtype(dtype)
    grads = _random_grads(rng, _model(dtype))
    x, h0 = grads["x"].copy(), grads["h0"].copy()
    names = [k for k in grads if k not in ("x", "h0")]
    tensors = [torch.tensor(grads[k], requires_grad=True) for k in names]
    for t, k in zip(tensors, names):
        t.grad = torch.tensor(grads[k])
    originals = {k: grads[k] for k in names}
    for a in originals.values():
        a.flags.writeable = False  # clip_grad_norm replaces entries, it does not write arrays
    assert grad_norm(grads, norm_type) == clip_grad_norm(dict(grads), 1e30, norm_type)
    total = clip_grad_norm(grads, max_norm, norm_type)
    ttotal = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type, foreach=False))
    assert isinstance(total, float)
    assert total == pytest.approx(ttotal, rel=NORM_RTOL[dtype])
    for t, k in zip(tensors, names):
        assert grads[k].dtype == dtype
        assert_close(grads[k], t.grad.numpy(), OPTIM[dtype], k)
        if max_norm > total:
            assert grads[k] is originals[k]  # not clipped: the very same arrays
    assert np.array_equal(grads["x"], x) and np.array_equal(grads["h0"], h0)  # neither counted nor scaled
    if max_norm < total:
        assert grad_norm(grads, norm_type) == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_nonfinite():
    grads = {"weight_ih_l0": np.array([np.inf, 1.0], np.float32), "bias_ih_l0": np.ones(3, np.float32),
             "x": np.ones(2)}
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm(dict(grads), 1.0, error_if_nonfinite=True)
    g = dict(grads)
    assert clip_grad_norm(g, 1.0) == float("inf")  # scaled by 1 / inf = 0 (inf * 0 = NaN), no warning
    assert np.isnan(g["weight_ih_l0"][0]) and np.all(g["bias_ih_l0"] == 0)
    with pytest.raises(TypeError, match="dict"):
        clip_grad_norm(list(grads.values()), 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(dict(grads), -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm(dict(grads), 1.0, norm_type=0)
    with pytest.raises(TypeError, match="floating-point"):
        clip_grad_norm({"weight_ih_l0": np.ones(3, np.int64)}, 1.0)


def test_training_converges():
    """Learning the running mean of a signal: Adam with clipping takes the loss down 20x in 150 steps."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (20, 16, 1)).astype(np.float32)
    target = np.cumsum(x[..., 0], axis=0) / np.arange(1, 21)[:, None]
    gru = fastgru.GRU(1, 8, seed=0)
    opt = Adam(gru, lr=0.03)
    losses = []
    for _ in range(150):
        y, _, cache = gru.forward(x)
        err = y[..., 0] - target
        losses.append(float(np.mean(err ** 2)))
        dy = np.zeros_like(y)
        dy[..., 0] = 2 * err / err.size
        grads = gru.backward(cache, dy)
        clip_grad_norm(grads, 1.0)
        opt.step(grads)
    assert losses[-1] < losses[0] / 20, (losses[0], losses[-1])


def test_ligru_running_stats_are_left_to_the_model(rng):
    gru = fastgru.GRU(3, 4, num_layers=2, cell="ligru", seed=0)
    opt = SGD(gru, lr=0.1, momentum=0.9)
    x = rng.standard_normal((6, 3, 3)).astype(np.float32)
    initial = gru.state_dict()
    for step in range(3):
        y, _, cache = gru.forward(x, training=True)  # moves the running statistics
        after_forward = gru.state_dict()
        grads = gru.backward(cache, y)
        assert not any(k.startswith("bn_running") for k in grads)
        opt.step(grads)
        now = gru.state_dict()
        for k, v in now.items():
            if k.startswith("bn_running"):
                # The forward's update survives the step's repack, and the optimizer never moved them.
                assert_close(v, after_forward[k], EXACT[F32], f"step {step} {k}")
            else:
                assert not np.array_equal(v, after_forward[k]), k  # trained parameters moved
    assert not np.array_equal(now["bn_running_mean_l0"], initial["bn_running_mean_l0"])
    assert not any(k.startswith("bn_running") for k in opt.state)
    with pytest.raises(ValueError, match="running statistics.*buffers"):
        opt.step({**grads, "bn_running_var_l1": np.ones(8, np.float32)})


def test_one_repack_per_step_with_trained_parameters_only(rng):
    gru = _model()
    calls = []
    real = gru.load_state_dict

    def counting(sd, strict=True):
        calls.append((sorted(sd), strict))
        real(sd, strict=strict)

    gru.load_state_dict = counting
    opt = Adam(gru, lr=1e-2)
    opt.step(_random_grads(rng, gru))
    assert calls == [(sorted(k for k in gru.state_dict()), False)]


def test_parameters_replaced_since_the_optimizer_was_made(rng):
    # The update starts from what the model holds at each step, whoever put it there.
    gru = _model()
    opt = SGD(gru, lr=0.5)
    opt.step(_random_grads(rng, gru))
    new = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in gru.state_dict().items()}
    gru.load_state_dict(new)
    grads = _random_grads(rng, gru)
    opt.step(grads)
    for k, v in new.items():
        assert_close(getattr(gru, k), v - np.float32(0.5) * grads[k], EXACT[F32], k)


def test_stale_cache_after_step(rng):
    gru = _model()
    y, _, cache = gru.forward(rng.standard_normal((5, 2, 3)).astype(np.float32))
    grads = gru.backward(cache, y)
    SGD(gru, lr=0.1).step(grads)
    with pytest.raises(ValueError, match="weights changed"):
        gru.backward(cache, y)


def test_missing_gradients_are_skipped(rng):
    gru = _model()
    before = gru.state_dict()
    opt = Adam(gru)
    grads = _random_grads(rng, gru)
    del grads["weight_hh_l0"]
    grads["bias_ih_l1_reverse"] = None
    opt.step(grads)
    after = gru.state_dict()
    for k in ("weight_hh_l0", "bias_ih_l1_reverse"):
        assert np.array_equal(after[k], before[k]) and k not in opt.state
    assert not np.array_equal(after["weight_ih_l0"], before["weight_ih_l0"])


@pytest.mark.parametrize("make", [lambda m: SGD(m, 0.1, momentum=0.9, nesterov=True),
                                  lambda m: Adam(m, 1e-2, amsgrad=True), lambda m: AdamW(m, 1e-2)],
                         ids=["sgd", "adam", "adamw"])
def test_state_dict_round_trip(rng, make):
    a_model, b_model = _model(np.float64), _model(np.float64)
    a = make(a_model)
    grads = [_random_grads(rng, a_model) for _ in range(6)]
    for g in grads[:3]:
        a.step(g)
    sd = a.state_dict()
    b_model.load_state_dict(a_model.state_dict())
    b = make(b_model)
    b.load_state_dict(sd)
    sd["state"]["weight_ih_l0"][next(k for k in sd["state"]["weight_ih_l0"] if k != "step")][...] = 7  # a copy
    for g in grads[3:]:
        a.step(g)
        b.step(g)
    for k, v in a_model.state_dict().items():
        assert_close(b_model.state_dict()[k], v, EXACT[F64], k)
    assert b.hyperparameters == a.hyperparameters

    with pytest.raises(ValueError, match="optimizer's, this is"):
        (SGD(b_model, 0.1) if not isinstance(b, SGD) else Adam(b_model)).load_state_dict(a.state_dict())
    bad = a.state_dict()
    bad["state"]["nope_l0"] = bad["state"].pop("weight_ih_l0")
    with pytest.raises(ValueError, match="no parameter"):
        b.load_state_dict(bad)
    bad = a.state_dict()
    key = next(k for k in bad["state"]["weight_hh_l0"] if k != "step")
    bad["state"]["weight_hh_l0"][key] = np.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict(bad)
    with pytest.raises(ValueError, match="keys"):
        b.load_state_dict({"state": {}})


def test_float64_state_and_lr_schedule(rng):
    gru = _model(np.float64)
    opt = Adam(gru, lr=0.1)
    opt.step(_random_grads(rng, gru))
    assert all(v.dtype == np.float64 for s in opt.state.values() for k, v in s.items() if k != "step")
    opt.lr = 0.01
    assert opt.lr == 0.01 and opt.hyperparameters["lr"] == 0.01
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1.0
    assert opt.lr == 0.01
    assert "Adam(GRU(3, 4" in repr(opt)


def test_errors(rng):
    gru = _model()
    opt = SGD(gru, lr=0.1)
    good = _random_grads(rng, gru)
    with pytest.raises(ValueError, match=r"no parameter of this model.*'weight_ih_l9'"):
        opt.step({**good, "weight_ih_l9": good["weight_ih_l0"]})
    with pytest.raises(ValueError, match=r"grads\['weight_hh_l0'\] has shape \(4, 4\), but the parameter has shape"):
        opt.step({**good, "weight_hh_l0": np.zeros((4, 4), np.float32)})
    with pytest.raises(TypeError, match="floating-point"):
        opt.step({**good, "bias_ih_l0": np.zeros(12, np.int32)})
    with pytest.raises(TypeError, match="dict model.backward returns"):
        opt.step([good["weight_ih_l0"]])
    with pytest.raises(ValueError, match="no parameter's gradient"):
        opt.step({"x": good["x"], "h0": good["h0"]})
    before = gru.state_dict()
    for k, v in before.items():  # a refused step changed nothing
        assert np.array_equal(getattr(gru, k), v)
    with pytest.raises(TypeError, match="fastgru.GRU"):
        SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        SGD(gru, lr=-0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD(gru, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(gru, lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="nesterov must be a bool"):
        SGD(gru, lr=0.1, momentum=0.9, nesterov=1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        Adam(gru, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="betas"):
        Adam(gru, betas=0.9)
    with pytest.raises(ValueError, match="epsilon"):
        Adam(gru, eps=-1e-8)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(gru, weight_decay=float("nan"))
    with pytest.raises(TypeError, match="real number"):
        Adam(gru, lr="0.1")
