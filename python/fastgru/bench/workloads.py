"""The standard workloads S1-S5 (bench/README.md) and their input data.

Every workload is float32, one layer, one direction, D = H. A workload expands into one
or more *cases* (S1 and S2 sweep H). ``--full`` runs the standard sizes; the default runs
reduced sizes (shorter T, same B and H, so the kernels see the same matrix shapes per step)
so that a whole run stays well under two minutes on a small machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# How many streaming steps the S1 correctness check compares.
STEP_CHECK_STEPS = 8
# S1 cycles through this many pre-made inputs so no runner can cache on a repeated input.
STEP_POOL = 64


@dataclass(frozen=True)
class Case:
    """One concrete shape to time."""

    workload: str  # "S1" ... "S5"
    kind: str  # "step" | "forward" | "train"
    T: int
    B: int
    H: int
    D: int
    full_size: bool  # True when this is the standard size, False when reduced

    @property
    def label(self) -> str:
        return f"{self.workload} H={self.H}" if self.workload in ("S1", "S2") else self.workload

    @property
    def size(self) -> str:
        s = f"B={self.B} T={self.T} H={self.H}"
        return s if self.full_size else s + " (reduced)"

    @property
    def flops(self) -> int:
        """Forward FLOPs = 6*T*B*H*(D+H); for a training step the forward's FLOPs x 3
        (backward = two GEMMs per forward GEMM), a conventional estimate."""
        f = 6 * self.T * self.B * self.H * (self.D + self.H)
        return 3 * f if self.kind == "train" else f

    @property
    def unit(self) -> str:
        """Display unit of one call: a streaming step in microseconds, the rest in ms."""
        return "us" if self.kind == "step" else "ms"

    @property
    def what(self) -> str:
        return {
            "step": "one streaming step (state carried)",
            "forward": "one forward call (inference)",
            "train": "forward (training=True) + backward",
        }[self.kind]


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    kind: str
    B: int
    T_full: int
    T_reduced: int
    Hs: tuple[int, ...]

    def cases(self, full: bool) -> list[Case]:
        T = self.T_full if full else self.T_reduced
        return [Case(self.id, self.kind, T, self.B, H, H, full or T == self.T_full) for H in self.Hs]


WORKLOADS: dict[str, Workload] = {
    w.id: w
    for w in (
        Workload("S1", "streaming step, B=1, state carried", "step", 1, 1, 1, (16, 64, 256)),
        Workload("S2", "sequence inference, B=1", "forward", 1, 512, 64, (256, 1024)),
        Workload("S3", "batch inference", "forward", 64, 128, 16, (512,)),
        Workload("S4", "training step (forward + backward)", "train", 32, 100, 20, (256,)),
        Workload("S5", "large batch forward", "forward", 128, 64, 8, (1024,)),
    )
}


def parse_workloads(spec: str | None) -> list[str]:
    """'S1,S3' -> ['S1', 'S3'] (case-insensitive, order kept); None/'all' -> all."""
    if not spec or spec.strip().lower() == "all":
        return list(WORKLOADS)
    ids: list[str] = []
    for part in spec.split(","):
        p = part.strip().upper()
        if not p:
            continue
        if p not in WORKLOADS:
            raise ValueError(f"unknown workload {part.strip()!r}; choose from {', '.join(WORKLOADS)}")
        if p not in ids:
            ids.append(p)
    if not ids:
        raise ValueError(f"no workload named in {spec!r}")
    return ids


def make_cases(ids: list[str], full: bool) -> list[Case]:
    return [c for i in ids for c in WORKLOADS[i].cases(full)]


@dataclass
class CaseData:
    """Inputs shared by every runner of one case (PyTorch layout, gate order r, z, n)."""

    params: dict[str, np.ndarray]  # weight_ih_l0 (3H,D), weight_hh_l0 (3H,H), bias_ih_l0, bias_hh_l0
    x: np.ndarray  # (T, B, D)
    h0: np.ndarray  # (1, B, H)
    dy: np.ndarray | None = None  # (T, B, H), train only
    xs: list[np.ndarray] = field(default_factory=list)  # step only: STEP_POOL inputs of (1, D)


def make_data(case: Case, seed: int = 1234) -> CaseData:
    rng = np.random.default_rng(seed)
    H, D = case.H, case.D
    k = 1.0 / np.sqrt(H)

    def u(shape, a):
        return rng.uniform(-a, a, size=shape).astype(np.float32)

    params = {
        "weight_ih_l0": u((3 * H, D), k),
        "weight_hh_l0": u((3 * H, H), k),
        "bias_ih_l0": u((3 * H,), k),
        "bias_hh_l0": u((3 * H,), k),
    }
    data = CaseData(params=params, x=u((case.T, case.B, D), 1.0), h0=u((1, case.B, H), 0.5))
    if case.kind == "train":
        data.dy = u((case.T, case.B, H), 1.0)
    if case.kind == "step":
        data.xs = [u((1, D), 1.0) for _ in range(STEP_POOL)]
        # Streaming starts from the zero state, as gru.initial_state() gives it.
        data.h0 = np.zeros((1, 1, H), np.float32)
    return data
