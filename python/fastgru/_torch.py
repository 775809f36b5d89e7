"""Conversion to and from torch.nn.GRU and torch.nn.GRUCell. torch is imported only here, only when
asked for."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._optional import require


def from_torch(cls: Any, module: Any) -> Any:
    torch = require("torch", "GRU.from_torch")

    if isinstance(module, torch.nn.GRUCell):
        # A GRUCell is one layer, one direction: its weight_ih etc. are nn.GRU's weight_ih_l0.
        dtype = np.float64 if module.weight_ih.dtype == torch.float64 else np.float32
        gru = cls(module.input_size, module.hidden_size, bias=module.bias, reset_after=True, dtype=dtype)
        gru.load_state_dict({f"{k}_l0": v.detach().cpu().numpy() for k, v in module.state_dict().items()})
        return gru
    if not isinstance(module, torch.nn.GRU):
        raise TypeError(f"from_torch expects a torch.nn.GRU or torch.nn.GRUCell, got {type(module).__name__}")
    if getattr(module, "proj_size", 0):
        raise ValueError("torch.nn.GRU with proj_size is not supported")
    dtype = np.float64 if module.weight_ih_l0.dtype == torch.float64 else np.float32
    gru = cls(module.input_size, module.hidden_size, num_layers=module.num_layers, bias=module.bias,
              batch_first=module.batch_first, dropout=float(module.dropout), bidirectional=module.bidirectional,
              reset_after=True, dtype=dtype)
    gru.load_state_dict({k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})
    return gru


def to_torch(gru: Any, cell: Any = False) -> Any:
    torch = require("torch", "GRU.to_torch")

    if not isinstance(cell, (bool, np.bool_)):
        raise TypeError(f"cell must be a bool (True: a torch.nn.GRUCell), got {type(cell).__name__} {cell!r}")
    if not gru.reset_after:
        raise ValueError("torch.nn.GRU has only the reset-after cell; this model has reset_after=False")
    tdtype = torch.float64 if gru.dtype == np.float64 else torch.float32
    if cell:
        if gru.num_layers != 1 or gru.bidirectional:
            raise ValueError(f"cell=True needs a 1-layer unidirectional model (a torch.nn.GRUCell is one), this "
                             f"one has num_layers={gru.num_layers}, bidirectional={gru.bidirectional}")
        module = torch.nn.GRUCell(gru.input_size, gru.hidden_size, bias=gru.bias, dtype=tdtype)
        module.load_state_dict({k[:-3]: torch.from_numpy(v) for k, v in gru.state_dict().items()})  # drop "_l0"
        return module
    module = torch.nn.GRU(gru.input_size, gru.hidden_size, num_layers=gru.num_layers, bias=gru.bias,
                          batch_first=gru.batch_first, dropout=gru.dropout, bidirectional=gru.bidirectional,
                          dtype=tdtype)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in gru.state_dict().items()})
    return module
