"""Files and inputs from outside (issue 10, item 5): a malformed or hostile model file costs at most
about its own size and ends in fastgru.FormatError naming it; external data is read only from
inside the directory the caller allows; the functional API and load_state_dict check every argument.
"""

import io
import json
import os
import re
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastgru
import fastgru.functional as F

FormatError = fastgru.FormatError
SMALL = 50 * 2**20  # bytes: far below what the claims below would allocate if believed


def _peak_and_time(fn):
    """(exception fn raised, peak bytes traced, seconds)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned for the caller's assertions
        raised = e
    else:
        raised = None
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return raised, peak, seconds


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _config(**config):
    return np.array(json.dumps(config))


def _npz_member(arr):
    """One .npy member's bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _npy_header_only(shape, descr="<f4"):
    """The magic and header of a .npy array of `shape`, without its data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.fixture
def saved(tmp_path):
    """A valid model file: (model, path, bytes)."""
    gru = fastgru.GRU(3, 4, num_layers=2, bidirectional=True, seed=1)
    path = tmp_path / "model.npz"
    gru.save(path)
    return gru, path, path.read_bytes()


# ---------------------------------------------------------------------------------------------
# fastgru.load: bounded cost


def test_tiny_npz_claiming_a_huge_model_fails_fast():
    data = _npz_bytes(__fastgru_config__=_config(input_size=4096, hidden_size=4096, num_layers=64,
                                                 bidirectional=True))
    assert len(data) < 1024
    raised, peak, seconds = _peak_and_time(lambda: fastgru.load(data))
    assert isinstance(raised, FormatError), raised
    assert str(raised).startswith("<bytes>")
    assert "missing 'weight_ih_l0'" in str(raised) and "more" in str(raised)
    assert len(str(raised)) < 1000
    assert peak < SMALL, f"peak {peak / 2**20:.1f} MB"
    assert seconds < 2.0


def test_npz_headers_claiming_huge_arrays_fail_before_reading():
    """Every member the config asks for is there, declaring the config's (huge) shape, with no data."""
    config = dict(input_size=4096, hidden_size=4096, num_layers=2)
    expected = fastgru.GRU._without_params(**config)._spec.param_shapes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__fastgru_config__.npy", _npz_member(_config(**config)))
        for name, shape in expected.items():
            z.writestr(name + ".npy", _npy_header_only(shape))
    data = buf.getvalue()
    assert len(data) < 8192
    raised, peak, seconds = _peak_and_time(lambda: fastgru.load(data))
    assert isinstance(raised, FormatError), raised
    assert "declares shape" in str(raised) and "bytes of data" in str(raised)
    assert peak < SMALL and seconds < 2.0


def test_compressed_npz_expanding_far_beyond_its_size_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, z.open("__fastgru_config__.npy", "w") as member:
        for _ in range(32):
            member.write(bytes(1 << 20))  # 32 MB of zeros: a few tens of KB deflated
    data = buf.getvalue()
    assert len(data) < 200_000
    raised, peak, seconds = _peak_and_time(lambda: fastgru.load(data))
    assert isinstance(raised, FormatError), raised
    assert "expand to 33554432 bytes, more than 64 times" in str(raised)
    assert peak < SMALL and seconds < 2.0


def test_compressed_npz_of_a_real_model_loads(saved):
    gru = saved[0]
    buf = io.BytesIO()
    np.savez_compressed(buf, __fastgru_config__=_config(**gru.config()), **gru.state_dict())
    back = fastgru.load(buf.getvalue())
    for name, value in gru.state_dict().items():
        np.testing.assert_array_equal(getattr(back, name), value, err_msg=name)


def test_load_converts_out_of_range_values_quietly(saved):
    """float64 values beyond float32's range become inf, without a warning (warnings are errors here)."""
    gru = saved[0]
    params = {k: v.astype(np.float64) * 1e300 for k, v in gru.state_dict().items()}
    back = fastgru.load(_npz_bytes(__fastgru_config__=_config(**gru.config()), **params))
    assert np.all(np.isinf(back.weight_ih_l0))


def test_load_builds_from_the_stored_arrays_without_random_init(saved, monkeypatch):
    gru, path, _ = saved

    def no_init(self, *args, **kwargs):
        raise AssertionError("load must not run GRU.__init__ (it draws random weights)")

    monkeypatch.setattr(fastgru.GRU, "__init__", no_init)
    back = fastgru.load(path)
    assert back.config() == gru.config()
    for name, value in gru.state_dict().items():
        np.testing.assert_array_equal(getattr(back, name), value, err_msg=name)


def test_load_checks_every_header_against_the_config(saved):
    gru, path, _ = saved
    params = gru.state_dict()
    params["weight_hh_l1"] = params["weight_hh_l1"][:, :3]
    data = _npz_bytes(__fastgru_config__=_config(**gru.config()), **params)
    with pytest.raises(FormatError, match=r"'weight_hh_l1' is stored as float32 of shape \(12, 3\), expected "
                                          r"floats of shape \(12, 4\)"):
        fastgru.load(data)
    params = gru.state_dict()
    params["extra"] = np.zeros(2, np.float32)
    with pytest.raises(FormatError, match="unexpected 'extra'"):
        fastgru.load(_npz_bytes(__fastgru_config__=_config(**gru.config()), **params))
    params = gru.state_dict()
    params["bias_ih_l0"] = params["bias_ih_l0"].astype(np.int32)
    with pytest.raises(FormatError, match="'bias_ih_l0' is stored as int32"):
        fastgru.load(_npz_bytes(__fastgru_config__=_config(**gru.config()), **params))


def _corruptions(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    first = z.infolist()[0]
    flipped = bytearray(data)
    flipped[first.header_offset + 30 + len(first.filename) + 200] ^= 0xFF  # inside member 0's data
    return {"truncated": data[:len(data) // 2], "cut-at-end": data[:-5], "garbage": os.urandom(300),
            "empty": b"", "bad-crc": bytes(flipped), "text": b"PK\x03\x04 not really a zip"}


@pytest.mark.parametrize("kind", ["truncated", "cut-at-end", "garbage", "empty", "bad-crc", "text"])
@pytest.mark.parametrize("as_path", [False, True], ids=["bytes", "path"])
def test_malformed_npz_raises_format_error_naming_the_file(saved, tmp_path, kind, as_path):
    data = _corruptions(saved[2])[kind]
    source = data
    if as_path:
        source = tmp_path / f"{kind}.npz"
        source.write_bytes(data)
    with pytest.raises(FormatError) as info:
        fastgru.load(source)
    assert str(info.value).startswith(repr(str(source)) if as_path else "<bytes>"), str(info.value)
    assert info.value.__cause__ is not None  # the zip parser's own exception, chained
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("config,match", [
    (b"not json", "not valid JSON"),
    (json.dumps([1, 2]), "must be a JSON object, got list"),
    (json.dumps({"input_size": 3}), "no 'hidden_size'"),
    (json.dumps({"input_size": 3, "hidden_size": 4, "evil": 1}), "unknown entries 'evil'"),
    (json.dumps({"input_size": "3", "hidden_size": 4}), "'input_size' must be int, got str"),
    (json.dumps({"input_size": True, "hidden_size": 4}), "'input_size' must be int, got bool"),
    (json.dumps({"input_size": 3, "hidden_size": 4, "bias": 1}), "'bias' must be bool, got int"),
    (json.dumps({"input_size": 3, "hidden_size": 4, "num_layers": 10**6}), "num_layers must be in"),
    (json.dumps({"input_size": 3, "hidden_size": 4, "cell": "lstm"}), "cell must be one of"),
    ("[" * 20000 + "]" * 20000, "not valid JSON"),  # nesting: RecursionError inside json
    ('"' + "x" * 70000 + '"', "must be one JSON string"),  # longer than any config
], ids=["text", "list", "no-hidden", "unknown-key", "str-int", "bool-int", "int-bool", "layers", "cell",
        "nesting", "long"])
def test_hostile_config_raises_format_error(config, match):
    text = config.decode() if isinstance(config, bytes) else config
    with pytest.raises(FormatError, match=match):
        fastgru.load(_npz_bytes(__fastgru_config__=np.array(text)))


def test_config_entry_must_be_one_string():
    with pytest.raises(FormatError, match="must be one JSON string"):
        fastgru.load(_npz_bytes(__fastgru_config__=np.zeros(3)))
    with pytest.raises(FormatError, match="no config entry"):
        fastgru.load(_npz_bytes(weight_ih_l0=np.zeros(3)))
    with pytest.raises(FormatError, match="'__fastgru_config__' declares dtype object"):  # a pickle: never read
        fastgru.load(_npz_bytes(__fastgru_config__=np.array({"a": 1}, dtype=object)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__fastgru_config__.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': (((((}\n")
    with pytest.raises(FormatError, match="npy header of '__fastgru_config__' cannot be read") as info:
        fastgru.load(buf.getvalue())
    assert info.value.__cause__ is not None


def test_load_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="path, bytes or a binary file"):
        fastgru.load(3)
    with pytest.raises(FileNotFoundError):
        fastgru.load(tmp_path / "missing.npz")


def test_load_reads_an_open_file_and_bytes(saved):
    gru, path, data = saved
    with open(path, "rb") as f:
        assert fastgru.load(f).config() == gru.config()
    assert fastgru.load(bytearray(data)).config() == gru.config()


# ---------------------------------------------------------------------------------------------
# fastgru.load_onnx


def _onnx_model(W_tensor=None, H=4, D=3, **attrs):
    """A one-node GRU model; W_tensor replaces the W initializer (TensorProto)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    W = numpy_helper.from_array(rng.standard_normal((1, 3 * H, D)).astype(np.float32), "W")
    R = numpy_helper.from_array(rng.standard_normal((1, 3 * H, H)).astype(np.float32), "R")
    node = helper.make_node("GRU", ["X", "W", "R"], ["Y", "Y_h"], name="enc", hidden_size=H, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 1, D])],
                              [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, 1, H])],
                              initializer=[W if W_tensor is None else W_tensor, R])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def _external(name, location, dims, offset=None, length=None):
    pytest.importorskip("onnx")
    from onnx import TensorProto

    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
    return t


def _secret_dir(tmp_path, H=4, D=3):
    """tmp/secret.bin holds float32 values shaped like W; tmp/models/ is an empty model directory."""
    secret = np.arange(3 * H * D, dtype=np.float32).reshape(1, 3 * H, D)
    (tmp_path / "secret.bin").write_bytes(secret.astype("<f4").tobytes())
    (tmp_path / "models").mkdir()
    return secret


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "text"])
@pytest.mark.parametrize("as_path", [False, True], ids=["bytes", "path"])
def test_malformed_onnx_raises_format_error_naming_the_file(tmp_path, kind, as_path):
    data = _onnx_model().SerializeToString()
    data = {"truncated": data[:len(data) // 2], "garbage": b"\xff" * 64, "empty": b"",
            "text": b"this is not a protobuf\n"}[kind]
    source = data
    if as_path:
        source = tmp_path / "m.onnx"
        source.write_bytes(data)
    with pytest.raises(FormatError) as info:
        fastgru.load_onnx(source)
    assert str(info.value).startswith(repr(str(source)) if as_path else "<bytes>"), str(info.value)
    if kind in ("truncated", "garbage"):
        assert info.value.__cause__ is not None  # protobuf's DecodeError, chained


def test_bytes_model_never_reads_files_without_base_dir(tmp_path, monkeypatch):
    _secret_dir(tmp_path)
    data = _onnx_model(_external("W", "secret.bin", [1, 12, 3])).SerializeToString()
    monkeypatch.chdir(tmp_path)  # where onnx's own loader would look
    with pytest.raises(FormatError, match="reads no file unless load_onnx is given base_dir"):
        fastgru.load_onnx(data)
    onnx = pytest.importorskip("onnx")
    with pytest.raises(FormatError, match=r"^<ModelProto>: .*base_dir"):
        fastgru.load_onnx(onnx.load_from_string(data))


def test_base_dir_allows_external_data_inside_it_only(tmp_path):
    secret = _secret_dir(tmp_path)
    data = _onnx_model(_external("W", "secret.bin", [1, 12, 3])).SerializeToString()
    (gru,) = fastgru.load_onnx(data, base_dir=tmp_path).values()
    # ONNX's W is z, r, h; fastgru's weight_ih is r, z, n.
    np.testing.assert_array_equal(gru.weight_ih_l0, np.concatenate([secret[0, 4:8], secret[0, :4], secret[0, 8:]]))
    for location in ["../secret.bin", "sub/../../secret.bin", str(tmp_path / "secret.bin"), "/etc/passwd"]:
        escaping = _onnx_model(_external("W", location, [1, 12, 3])).SerializeToString()
        with pytest.raises(FormatError, match="absolute|leaves the model's directory"):
            fastgru.load_onnx(escaping, base_dir=tmp_path / "models")


def test_external_data_symlink_out_of_base_dir_is_refused(tmp_path):
    _secret_dir(tmp_path)
    try:
        os.symlink(tmp_path / "secret.bin", tmp_path / "models" / "link.bin")
    except OSError:
        pytest.skip("this file system has no symlinks")
    data = _onnx_model(_external("W", "link.bin", [1, 12, 3])).SerializeToString()
    with pytest.raises(FormatError, match="resolves outside"):
        fastgru.load_onnx(data, base_dir=tmp_path / "models")


def test_external_data_must_be_a_regular_file(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "fifo.bin")  # opening it would block until a writer came
    for location in ["fifo.bin", "."]:
        data = _onnx_model(_external("W", location, [1, 12, 3])).SerializeToString()
        with pytest.raises(FormatError, match="is not a regular file"):
            fastgru.load_onnx(data, base_dir=tmp_path)


def test_path_model_reads_external_data_beside_it_not_from_cwd(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    models = tmp_path / "models"
    models.mkdir()
    gru = fastgru.GRU(3, 4, seed=2)
    onnx.save(gru.to_onnx(None), models / "m.onnx", save_as_external_data=True, location="w.bin",
              size_threshold=0)
    monkeypatch.chdir(tmp_path)
    (back,) = fastgru.load_onnx(models / "m.onnx").values()
    for name, value in gru.state_dict().items():
        np.testing.assert_array_equal(getattr(back, name), value, err_msg=name)
    # The same file with a location leaving its directory.
    model = onnx.load(models / "m.onnx", load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../w.bin"
    onnx.save(model, models / "bad.onnx")
    with pytest.raises(FormatError, match=r"^'.*bad.onnx': .*leaves the model's directory"):
        fastgru.load_onnx(models / "bad.onnx")


@pytest.mark.parametrize("offset,length,match", [
    (0, 4, "does not hold the 144 bytes"),          # length disagrees with dims
    (100, 144, "does not hold the 144 bytes"),      # runs past the file's end
    ("-1", 144, "not a non-negative integer"),
    (None, None, None),                             # the whole file: exactly W's bytes
])
def test_external_data_offset_and_length_are_checked(tmp_path, offset, length, match):
    _secret_dir(tmp_path)
    data = _onnx_model(_external("W", "secret.bin", [1, 12, 3], offset, length)).SerializeToString()
    if match is None:
        assert list(fastgru.load_onnx(data, base_dir=tmp_path)) == ["enc"]
    else:
        with pytest.raises(FormatError, match=match):
            fastgru.load_onnx(data, base_dir=tmp_path)


def test_missing_external_file_is_a_format_error(tmp_path):
    data = _onnx_model(_external("W", "nowhere.bin", [1, 12, 3])).SerializeToString()
    with pytest.raises(FormatError, match="'nowhere.bin' cannot be read") as info:
        fastgru.load_onnx(data, base_dir=tmp_path)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def _tensor(dims, raw=None, floats=None, data_type=None):
    from onnx import TensorProto

    t = TensorProto(name="W", data_type=data_type or TensorProto.FLOAT, dims=dims)
    if raw is not None:
        t.raw_data = raw
    if floats is not None:
        t.float_data.extend(floats)
    return t


def test_initializer_dims_are_checked_before_allocating():
    pytest.importorskip("onnx")
    cases = [
        (_tensor([-1, 12, 3], raw=b"\0" * 144), r"dims \[-1, 12, 3\]: every dim must be >= 0"),
        (_tensor([1, -12, -3], raw=b"\0" * 144), "every dim must be >= 0"),
        (_tensor([1, 2**40, 2**40], raw=b"\0" * 144), "but holds 144 bytes"),
        (_tensor([1, 12, 3], raw=b"\0" * 100), "but holds 100 bytes"),
        (_tensor([1, 12, 3], floats=[0.0] * 10), "holds 10 values"),
        (_tensor([1] * 40, raw=b"\0" * 4), "has 40 dims; a GRU weight has 2 or 3"),
    ]
    for tensor, match in cases:
        model = _onnx_model(tensor)
        raised, peak, seconds = _peak_and_time(lambda: fastgru.load_onnx(model))
        assert isinstance(raised, FormatError), (match, raised)
        assert raised.args[0].startswith("<ModelProto>: GRU node 'enc': input W ('W')"), raised
        assert re.search(match, str(raised)), (match, str(raised))
        assert peak < SMALL and seconds < 2.0


def test_non_float_weights_and_bad_attributes_are_format_errors():
    onnx = pytest.importorskip("onnx")
    ints = _tensor([1, 12, 3], raw=b"\0" * 288, data_type=onnx.TensorProto.INT64)
    with pytest.raises(FormatError, match="element type INT64"):
        fastgru.load_onnx(_onnx_model(ints))
    with pytest.raises(NotImplementedError, match="float16"):  # valid ONNX, not computed by fastgru
        fastgru.load_onnx(_onnx_model(_tensor([1, 12, 3], raw=b"\0" * 72, data_type=onnx.TensorProto.FLOAT16)))
    with pytest.raises(FormatError, match="linear_before_reset must be an int") as info:
        fastgru.load_onnx(_onnx_model(linear_before_reset="yes"))
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(FormatError, match="hidden_size must be an int"):
        fastgru.load_onnx(_hidden_size_model("four"))
    with pytest.raises(FormatError, match=r"W has shape \(1, 12, 3\), expected \(1, 3000, input_size\)"):
        fastgru.load_onnx(_hidden_size_model(1000))


def _hidden_size_model(value):
    model = _onnx_model()
    from onnx import helper

    node = model.graph.node[0]
    for i, a in enumerate(node.attribute):
        if a.name == "hidden_size":
            del node.attribute[i]
            break
    node.attribute.append(helper.make_attribute("hidden_size", value))
    return model


def test_load_onnx_argument_errors(tmp_path):
    pytest.importorskip("onnx")
    data = _onnx_model().SerializeToString()
    with pytest.raises(TypeError, match="path, bytes or onnx.ModelProto"):
        fastgru.load_onnx(3)
    with pytest.raises(FileNotFoundError):
        fastgru.load_onnx(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="base_dir must be a path"):
        fastgru.load_onnx(data, base_dir=3)
    with pytest.raises(ValueError, match="base_dir .* is not a directory"):
        fastgru.load_onnx(data, base_dir=tmp_path / "missing")
    assert list(fastgru.load_onnx(data)) == ["enc"]


# ---------------------------------------------------------------------------------------------
# The functional API and load_state_dict


@pytest.fixture
def small():
    gru = fastgru.GRU(3, 4, seed=0)
    return gru, gru.state_dict(), np.zeros((2, 1, 3), np.float32)


@pytest.mark.parametrize("key,match", [
    ("weight_ih_l123456789012", "no GRU parameter's name: 'weight_ih_l123456789012'"),  # > 4 digits
    ("weight_ih_l99999", "no GRU parameter's name: 'weight_ih_l99999'"),
    ("weight_ih_l4096", r"names layer 4096, but num_layers must be in \[1, 4096\]"),
    ("bias_hh_l4095", "params holds 5 arrays, but num_layers=4096 needs at least 8192"),  # the largest count
])
def test_functional_huge_layer_index_rejected_quickly(small, key, match):
    _, params, x = small
    params[key] = np.zeros((12, 4), np.float32)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=match) as info:
        F.gru_forward(x, params)
    assert time.perf_counter() - t0 < 1.0
    assert len(str(info.value)) < 1000


def test_functional_unknown_keys_listed_briefly(small):
    _, params, x = small
    params.update({f"junk{i}": 0 for i in range(20000)})
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"'junk0', 'junk1', 'junk2', 'junk3', 'junk4' and 19995 more") as info:
        F.gru_forward(x, params)
    assert time.perf_counter() - t0 < 1.0 and len(str(info.value)) < 1000
    with pytest.raises(ValueError, match="and 19995 more") as info:
        F.gru_forward(x, params, num_layers=1)  # the same keys, reported by the parameter check
    assert len(str(info.value)) < 1000


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(batch_first="yes"), TypeError, "batch_first must be a bool"),
    (dict(bidirectional="no"), TypeError, "bidirectional must be a bool"),
    (dict(num_layers=10**12), ValueError, r"num_layers must be in \[1, 4096\]"),
    (dict(num_layers="1"), TypeError, "num_layers must be an int"),
    (dict(num_layers=1.0), TypeError, "num_layers must be an int"),
    (dict(dropout_seed=1.5), TypeError, "dropout_seed must be an int"),
    (dict(dropout_seed="7"), TypeError, "dropout_seed must be an int"),
    (dict(dropout="0.5"), TypeError, "dropout must be a float"),  # checked with training=False too
    (dict(training="yes"), TypeError, "training must be a bool"),
    (dict(gates=3), ValueError, "gates must be one of"),
])
def test_functional_argument_types(small, kwargs, exc, match):
    _, params, x = small
    with pytest.raises(exc, match=match):
        F.gru_forward(x, params, **kwargs)


def test_functional_containers_and_param_names(small):
    _, params, x = small
    with pytest.raises(TypeError, match="params must be a dict"):
        F.gru_forward(x, list(params.items()))
    with pytest.raises(ValueError, match="num_layers must be in"):
        F.param_names(10**9, False, True)
    with pytest.raises(TypeError, match="bias must be a bool"):
        F.param_names(1, False, "yes")
    with pytest.raises(TypeError, match="batch_stats must be a dict"):
        F.update_running_stats(params, [("bn_running_mean_l0", np.zeros(8))])


def test_load_state_dict_checks_strict_and_rank(small):
    gru, params, _ = small
    with pytest.raises(TypeError, match="strict must be a bool"):
        gru.load_state_dict(params, strict="no")
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        gru.load_state_dict(list(params.items()))
    g = fastgru.GRU(3, 1, gates="type2", seed=0)  # bias_ih_l0 has shape (1,)
    sd = g.state_dict()
    assert sd["bias_ih_l0"].shape == (1,)
    for scalar in (np.float64(0.5), np.array(0.5), 0.5):
        sd["bias_ih_l0"] = scalar
        with pytest.raises(ValueError, match=r"bias_ih_l0 has shape \(\), expected \(1,\)"):
            g.load_state_dict(sd)
