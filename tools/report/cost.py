"""The cost of each number: the `cost` block every stage writes into its metrics.json
(mae_backbone/runtime/cost.py), summarised per table cell and written as text and CSV fields.

A cell is the mean over its seeds' runs, so its cost is the cost of one such run: the mean over those runs
of the times, images and FLOPs, the largest peak memory, and the devices and FLOP methods they name.
Inference-only runs (kNN, robustness) have no training fields: their training FLOPs read as 0 ("no training").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# what mae_backbone/runtime/cost.py records, in CSV order (CSV columns: cost_<field>)
FIELDS = (
    "wall_seconds",
    "device_seconds",
    "device",
    "processes",
    "peak_rss_mib",
    "peak_gpu_mib",
    "train_images",
    "train_flops",
    "flops_method",
)
MEAN = ("wall_seconds", "device_seconds", "train_images", "train_flops")
LARGEST = ("processes", "peak_rss_mib", "peak_gpu_mib")
CSV_FIELDS = tuple(f"cost_{f}" for f in FIELDS)
HEADER = "cost (device time, train FLOPs)"  # what a cost cell holds (NOTE says how each is measured)
NOTE = (
    "Cost columns: one run's device time (GPU-seconds summed over processes on GPUs; on CPUs CPU-seconds, user "
    "+ system with data-loader workers; in s / min / h) and training FLOPs (torch's FlopCounterMode on the "
    "first training step, forward + backward, x iterations x processes; SI prefixes, 1 PFLOP = 1e15), then "
    'the number\'s footnote; with several seeds, the mean over their runs. "no training": the protocol '
    "trains nothing (kNN; robustness is inference on the fine-tuned classifier). Wall time, processes, images "
    "seen, peak host / GPU memory and the FLOP method are in report.csv (cost_*)."
)


@dataclass(frozen=True)
class Cost:
    """One cell's cost: `record["cost"]` of its runs, combined (None: no run recorded that field)."""

    fields: dict[str, Any]
    runs: int

    def __getitem__(self, name: str) -> Any:
        return self.fields.get(name)

    @property
    def trains(self) -> bool:
        return self.fields.get("train_flops") is not None

    @property
    def train_flops(self) -> float:
        """Training FLOPs, 0 for a run that trains nothing (kNN: the accuracy-vs-compute figure's y-axis)."""
        return float(self.fields.get("train_flops") or 0.0)


def combine(records: Sequence[dict[str, Any]]) -> Cost | None:
    """The cost of one run of a cell from its runs' records; None when none of them recorded a cost."""
    blocks = [c for r in records if isinstance(c := r.get("cost"), dict)]
    if not blocks:
        return None
    out: dict[str, Any] = {}
    for name in FIELDS:
        values = [b[name] for b in blocks if b.get(name) is not None]
        if not values:
            out[name] = None
        elif name in MEAN:
            out[name] = sum(float(v) for v in values) / len(values)
        elif name in LARGEST:
            out[name] = max(values)
        else:  # device, flops_method: text, the distinct ones
            out[name] = "; ".join(dict.fromkeys(str(v) for v in values))
    return Cost(out, len(blocks))


def _sig(v: float) -> str:
    """Two significant digits without an exponent: 0.0083, 0.83, 8.3, 83, 830."""
    if v == 0:
        return "0"
    digits = max(0, 1 - math.floor(math.log10(abs(v))))
    return f"{round(v, digits):.{digits}f}"


def device_time(seconds: float, device: str | None) -> str:
    """`45 CPU-s`, `12 GPU-min`, `3.4 GPU-h`: device-seconds in the largest unit that stays >= 1."""
    kind = "GPU" if device and "cuda" in device else "CPU" if device == "cpu" else "device"
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{_sig(seconds / size)} {kind}-{unit}"
    return f"{_sig(seconds)} {kind}-s"


SI = (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6))


def flops(v: float) -> str:
    """`6.5 GFLOP`, `1.2 EFLOP`."""
    for prefix, size in SI:
        if v >= size:
            return f"{_sig(v / size)} {prefix}FLOP"
    return f"{_sig(v)} FLOP"


def text(cost: Cost | None) -> str:
    """A cost cell's number part: `1.9 CPU-s, 6.5 GFLOP`, `0.15 CPU-s, no training`, or `—`."""
    if cost is None or cost["device_seconds"] is None:
        return "—"
    return (
        device_time(cost["device_seconds"], cost["device"])
        + ", "
        + (flops(cost["train_flops"]) if cost.trains else "no training")
    )


def csv_fields(cost: Cost | None) -> dict[str, Any]:
    """`cost_<field>` for every recorded field (empty where the run recorded none)."""
    if cost is None:
        return dict.fromkeys(CSV_FIELDS, "")
    out = {}
    for name in FIELDS:
        v = cost[name]
        out[f"cost_{name}"] = (
            ""
            if v is None
            else round(v, 4)
            if isinstance(v, float) and name != "train_flops"
            else int(v)
            if name in ("train_flops", "train_images")
            else v
        )
    return out
