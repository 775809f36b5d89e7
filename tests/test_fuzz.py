"""Seeded fuzzing of the public API and both loaders (issue 10, item 7): malformed calls and
mutated files end in a documented exception (ValueError incl. FormatError, TypeError; OSError for a
path; NotImplementedError for valid ONNX fastgru does not support) or succeed; nothing else, and
no crash. The strategies live in tests/fuzz_strategies.py; tools/fuzz_api.py runs them longer."""

import importlib.util

import pytest
from hypothesis import HealthCheck, given, settings

import fuzz_strategies as fs

FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _check(case):
    unexpected = fs.run_case(case)
    if unexpected is not None:
        raise AssertionError(f"{case.label}: undocumented {type(unexpected).__name__}: {unexpected}") from unexpected


@settings(max_examples=400, **FUZZ)
@given(fs.constructor_cases())
def test_fuzz_constructor(case):
    _check(case)


@settings(max_examples=800, **FUZZ)
@given(fs.call_cases())
def test_fuzz_calls(case):
    _check(case)


@settings(max_examples=300, **FUZZ)
@given(fs.state_dict_cases())
def test_fuzz_load_state_dict(case):
    _check(case)


@settings(max_examples=400, **FUZZ)
@given(fs.functional_cases())
def test_fuzz_functional(case):
    _check(case)


@settings(max_examples=700, **FUZZ)
@given(fs.npz_cases())
def test_fuzz_load_npz(case):
    _check(case)


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="needs onnx (its cases are ONNX exports)")
@settings(max_examples=700, **FUZZ)
@given(fs.onnx_cases())
def test_fuzz_load_onnx(case):
    pytest.importorskip("onnx")
    _check(case)
