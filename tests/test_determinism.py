"""Bit-identical results for a given ISA, whatever the thread count, the batch a row sits in, or
stepping versus the whole sequence (every output is one fixed-order reduction; threads split
only across outputs). Sizes are chosen so the threaded paths really run (H=256 at batch 1 and a
batch of 64 both fork)."""

import numpy as np
import pytest

import fastgru

CASES = [  # (batch, steps, input_size, hidden_size, layers, reset_after)
    (1, 6, 200, 256, 2, True),
    (1, 5, 96, 160, 1, False),
    (64, 4, 48, 96, 1, True),
    (33, 3, 40, 70, 2, False),
]


def _model(D, H, L, reset_after):
    return fastgru.GRU(D, H, num_layers=L, reset_after=reset_after, seed=3)


def _inputs(B, T, D, L, H):
    rng = np.random.default_rng(B * 1000 + T)
    return rng.standard_normal((T, B, D)).astype(np.float32), rng.standard_normal((L, B, H)).astype(np.float32)


def _assert_steps_give_the_sequence_bits(gru, x, h0):
    y, h_n = gru(x, h0)
    state = h0
    for t in range(len(x)):
        y_t, state = gru.step(x[t], state)
        assert np.array_equal(y_t, y[t]), f"step {t}"
    assert np.array_equal(state, h_n)


def _assert_threads_give_the_same_bits(gru, x, h0=None, lengths=None):
    """Forward and backward at 1 and 2 threads agree bit for bit; returns the 2-thread (y, h_n)."""
    results = []
    for threads in (1, 2):
        fastgru.set_num_threads(threads)
        y, h_n, cache = gru.forward(x, h0, lengths=lengths)
        grads = gru.backward(cache, np.ones_like(y), np.ones_like(h_n))
        results.append((y, h_n, grads))
    (y1, h1, g1), (y2, h2, g2) = results
    assert np.array_equal(y1, y2) and np.array_equal(h1, h2)
    for key in g1:
        assert np.array_equal(g1[key], g2[key]), key
    return y2, h2


@pytest.mark.parametrize("case", CASES, ids=lambda c: "B{}-T{}-D{}-H{}-L{}-{}".format(*c))
def test_thread_count_does_not_change_a_bit(isa, case, restore_threads):
    B, T, D, H, L, ra = case
    gru = _model(D, H, L, ra)
    x, h0 = _inputs(B, T, D, L, H)
    _assert_threads_give_the_same_bits(gru, x, h0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_bidirectional_directions_on_their_own_threads_give_the_same_bits(isa, reset_after, restore_threads):
    # At 2 threads a small bidirectional batch runs each direction's time loop on its own thread
    # (W_hh within a core's cache): the bits must be those of 1 thread and of each row alone.
    gru = fastgru.GRU(20, 64, num_layers=2, bidirectional=True, reset_after=reset_after, seed=4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 3, 20)).astype(np.float32)
    y, h_n = _assert_threads_give_the_same_bits(gru, x, lengths=np.array([9, 4, 7]))
    y_row, h_row = gru(x[:4, 1:2])
    assert np.array_equal(y_row[:, 0], y[:4, 1]) and np.array_equal(h_row[:, 0], h_n[:, 1])


@pytest.mark.parametrize("reset_after", [True, False])
def test_a_large_w_hh_split_by_columns_gives_the_same_bits(isa, reset_after, restore_threads):
    # H=1024 float32: W_hh (12 MB) is over the size that two threads may each stream per step, so
    # a batch big enough to split by sequence is split by columns instead.
    gru = fastgru.GRU(16, 1024, reset_after=reset_after, seed=6)
    x = np.random.default_rng(7).standard_normal((3, 40, 16)).astype(np.float32)
    lengths = np.array([3, 1, 2, 3] * 10)
    y, h_n = _assert_threads_give_the_same_bits(gru, x, lengths=lengths)
    y_row, h_row = gru(x[:1, 1:2])
    assert np.array_equal(y_row[:, 0], y[:1, 1]) and np.array_equal(h_row[:, 0], h_n[:, 1])


@pytest.mark.parametrize("case", CASES, ids=lambda c: "B{}-T{}-D{}-H{}-L{}-{}".format(*c))
def test_a_row_gives_the_same_bits_in_any_batch(isa, case):
    B, T, D, H, L, ra = case
    gru = _model(D, H, L, ra)
    x, h0 = _inputs(B, T, D, L, H)
    y, h_n = gru(x, h0)
    row = B // 2
    y_row, h_row = gru(x[:, row:row + 1], h0[:, row:row + 1])
    assert np.array_equal(y_row[:, 0], y[:, row])
    assert np.array_equal(h_row[:, 0], h_n[:, row])


@pytest.mark.parametrize("case", CASES, ids=lambda c: "B{}-T{}-D{}-H{}-L{}-{}".format(*c))
def test_stepping_gives_the_same_bits_as_the_sequence(isa, case):
    B, T, D, H, L, ra = case
    gru = _model(D, H, L, ra)
    x, h0 = _inputs(B, T, D, L, H)
    _assert_steps_give_the_sequence_bits(gru, x, h0)


@pytest.mark.parametrize("batched", [True, False])
def test_step_output_is_a_view_of_the_new_state_last_layer(batched):
    gru = _model(3, 4, 2, True)
    state = gru.initial_state(2) if batched else gru.initial_state(1)[:, 0]
    x_t = np.ones((2, 3) if batched else (3,), np.float32)
    y_t, new = gru.step(x_t, state)
    assert y_t.shape == new.shape[1:] and np.shares_memory(y_t, new)
    assert np.array_equal(y_t, new[-1])
    expected = new[-1].copy()
    del new  # the view keeps the state's memory alive
    assert np.array_equal(y_t, expected)


@pytest.mark.parametrize("x_shape", [(2, 3), (3,)], ids=["batched", "unbatched"])
def test_step_without_a_state_starts_from_zeros(x_shape):
    gru = _model(3, 4, 2, True)
    x_t = np.linspace(-1, 1, int(np.prod(x_shape)), dtype=np.float32).reshape(x_shape)
    zeros = gru.initial_state(2) if len(x_shape) == 2 else gru.initial_state(1)[:, 0]
    y_t, new = gru.step(x_t)
    y_ref, new_ref = gru.step(x_t, zeros)
    assert new.shape == zeros.shape and new.dtype == zeros.dtype
    assert np.array_equal(new, new_ref) and np.array_equal(y_t, y_ref)
    y_list, _ = gru.step(x_t.tolist())  # not an ndarray: the checked path
    assert np.array_equal(y_list, y_ref)


@pytest.mark.parametrize("reset_after", [True, False])
def test_chunked_input_projection_gives_the_same_bits(isa, reset_after):
    # The forward projects the inputs of a few steps at a time (~4 MB of projections): at B=64,
    # H=512 that is 10 steps, so T=23 runs three chunks, the last one partial, in both directions
    # and with sequences ending inside a chunk. A single sequence is one chunk: each row of the
    # batch must give the bits of its own run, and the training forward those of inference.
    B, T, D, H = 64, 23, 24, 512
    gru = fastgru.GRU(D, H, num_layers=2, bidirectional=True, reset_after=reset_after, seed=5)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[:3] = (T, 9, 10)  # full, and ends just before / at a chunk boundary
    y, h_n = gru(x, lengths=lengths)
    y_train, h_train, _ = gru.forward(x, lengths=lengths, training=False)
    assert np.array_equal(y, y_train) and np.array_equal(h_n, h_train)
    for j in (0, 1, 2, 37):
        n = lengths[j]
        y_j, h_j = gru(x[:n, j:j + 1])
        assert np.array_equal(y[:n, j], y_j[:, 0]), f"row {j}"
        assert np.array_equal(h_n[:, j], h_j[:, 0]), f"row {j}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("D,H", [(7, 5), (300, 16), (40, 32), (9, 4), (520, 3)])
def test_small_layer_streaming_step_gives_the_same_bits(isa, D, H, dtype):
    # Batch-1 steps of layers with H up to one packed panel take a fused kernel (both products
    # and the gates in registers); it must reproduce the general path bit for bit, including an
    # input longer than one k-slice (D > 256) and a second layer fed by the first.
    gru = fastgru.GRU(D, H, num_layers=2, dtype=dtype, seed=7)
    rng = np.random.default_rng(D * 100 + H)
    x = rng.standard_normal((6, 1, D)).astype(dtype)
    h0 = rng.standard_normal((2, 1, H)).astype(dtype)
    _assert_steps_give_the_sequence_bits(gru, x, h0)
