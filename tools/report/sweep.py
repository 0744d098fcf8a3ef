"""Numbers whose recipe a held-out sweep chose (mae_backbone/runtime/sweep.py): what it chose, on which held-out
part of the training split, and the gap between the chosen point's held-out score and the one validation number.

A run with `sweep.grid` writes the chosen values and those scores into its metrics.json (`"sweep"`); its grid
points write their own records under `<run>/sweep/p<i>/`. The points are not numbers of any table (they are scored
on held-out training images, not on val): `collect` leaves them out (`is_point`), and each swept cell gets a
footnote line and CSV columns here, with what the points cost beside the refit (the cell's own cost column is the
refit's: the sweep's price is on top of it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mae_backbone.runtime.records import METRICS_FILE
from mae_backbone.runtime.sweep import SWEEP_DIR, point_dir

from . import cost

NOTE = (
    "Swept: the recipe was chosen per backbone by a grid sweep, each point trained on the rest of the training "
    "split and scored on a held-out part of it (never on val); the best point was refit on the whole training "
    "split and evaluated once on val. gap = val − held-out (the held-out score's optimism when negative)."
)
CSV_FIELDS = (
    "sweep_chosen",
    "sweep_metric",
    "sweep_holdout_score",
    "sweep_val_score",
    "sweep_gap",
    "sweep_points",
    "sweep_holdout_fraction",
    "sweep_holdout_seed",
    "sweep_holdout_images",
    "sweep_holdout_sha256",
    "sweep_points_device_seconds",
)


@dataclass(frozen=True)
class Sweep:
    """A run's `"sweep"` record, and the records its points left."""

    metric: str
    chosen: dict[str, Any]
    holdout_score: float | None
    val_score: float | None
    gap: float | None
    holdout: dict[str, Any]
    points: list[dict[str, Any]]
    point_records: list[dict[str, Any]]


def is_point(path: Path) -> bool:
    """A grid point's metrics.json (`<run>/sweep/p<i>/metrics.json`): scored on held-out training images."""
    return path.parent.parent.name == SWEEP_DIR and re.fullmatch(r"p\d+", path.parent.name) is not None


def of(record: dict[str, Any], path: Path) -> Sweep | None:
    """The sweep of a run's record at `path` (None: its recipe was fixed)."""
    s = record.get("sweep")
    if not isinstance(s, dict) or not isinstance(s.get("chosen"), dict):
        return None
    points = [p for p in s.get("points") or [] if isinstance(p, dict)]
    records = []
    for i in range(len(points)):
        file = point_dir(path.parent, i) / METRICS_FILE
        try:
            records.append(json.loads(file.read_text()))
        except (OSError, ValueError):
            continue  # a point's record removed by hand: its cost is unknown, its score is in the sweep record
    return Sweep(
        str(s.get("metric") or "?"),
        dict(s["chosen"]),
        _float(s.get("holdout_score")),
        _float(s.get("val_score")),
        _float(s.get("gap")),
        dict(s.get("holdout") or {}),
        points,
        records,
    )


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def values(chosen: dict[str, Any]) -> str:
    """`optim.blr=0.003, aug.preset=light`."""
    return ", ".join(f"{k}={_value(v)}" for k, v in chosen.items())


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "—"
    v = round(v, 1) + 0.0  # no "-0.0"
    return f"{v:+.1f}" if signed else f"{v:.1f}"  # as the report's other signed numbers (render._num)


def points_cost(s: Sweep) -> cost.Cost | None:
    """What all the points cost together (the sum over them of the times, images and FLOPs)."""
    one = cost.combine(s.point_records)
    if one is None:
        return None
    total = {k: v * one.runs if k in cost.MEAN and v is not None else v for k, v in one.fields.items()}
    return cost.Cost(total, one.runs)


def text(s: Sweep) -> str:
    """`chosen optim.blr=0.003, aug.preset=light of 4 points (held-out 20% of train, seed 0, 9 images, sha256 ab12);
    held-out top1 41.2, gap −3.1; points 33.3 / 41.2 / ...; the points cost 12 CPU-s, 48 GFLOP more`."""
    h = s.holdout
    fraction = h.get("fraction")
    bits = [f"held-out {fraction:.0%} of train" if isinstance(fraction, (int, float)) else "a held-out part of train"]
    bits += [f"seed {h['seed']}"] if h.get("seed") is not None else []
    bits += [f"{h['num_holdout']} images"] if h.get("num_holdout") is not None else []
    bits += [f"list sha256 {h['sha256']}"] if h.get("sha256") else []
    part = ", ".join(bits)
    out = f"chosen {values(s.chosen)} of {len(s.points)} point(s) ({part}); held-out {s.metric} "
    out += f"{_num(s.holdout_score)}, gap {_num(s.gap, True)}"
    scores = [_num(_float(p.get("holdout_score"))) for p in s.points]
    if 1 < len(scores) <= 8:
        out += "; points " + " / ".join(scores)
    spent = points_cost(s)
    if spent is not None and spent["device_seconds"] is not None:
        out += f"; the points cost {cost.text(spent)} beyond the refit"
    return out


def grids_text(swept: dict[str, dict[str, dict[str, list[Any]]]]) -> str:
    """What the suite swept, per backbone: `mae: finetune over optim.blr (2) × aug.preset (2)`."""
    per_backbone = [
        f"{label}: "
        + ", ".join(f"{p} over " + " × ".join(f"{k} ({len(v)})" for k, v in grid.items()) for p, grid in grids.items())
        for label, grids in swept.items()
    ]
    return (
        "Recipes chosen per backbone by a held-out sweep (the chosen values are listed under each table): "
        + "; ".join(per_backbone)
        + "."
    )


def note(label: str, titles: str, results: list[Any]) -> str | None:
    """The footnote line of a swept cell (each seed's run): `mae, fine-tune [p3]: chosen ...`."""
    swept = [(r, s) for r in results if (s := of(r.record, r.path)) is not None]
    if not swept:
        return None
    if len(results) == 1:
        return f"{label}, {titles} [{swept[0][0].id}]: {text(swept[0][1])}"
    return f"{label}, {titles}: " + "; ".join(f"seed {r.seed} [{r.id}]: {text(s)}" for r, s in swept)


def csv_fields(results: list[Any]) -> dict[str, Any]:
    """`sweep_*` columns of a cell (each seed's value, `;`-joined as `per_seed`; empty: a fixed recipe)."""
    sweeps = [s for r in results if (s := of(r.record, r.path)) is not None]
    if not sweeps:
        return dict.fromkeys(CSV_FIELDS, "")

    def join(get: Callable[[Sweep], Any]) -> str:
        picked = [get(s) for s in sweeps]
        return ";".join("" if v is None else str(round(v, 4) if isinstance(v, float) else v) for v in picked)

    return dict(
        sweep_chosen=";".join(values(s.chosen) for s in sweeps),
        sweep_metric=join(lambda s: s.metric),
        sweep_holdout_score=join(lambda s: s.holdout_score),
        sweep_val_score=join(lambda s: s.val_score),
        sweep_gap=join(lambda s: s.gap),
        sweep_points=join(lambda s: len(s.points)),
        sweep_holdout_fraction=join(lambda s: s.holdout.get("fraction")),
        sweep_holdout_seed=join(lambda s: s.holdout.get("seed")),
        sweep_holdout_images=join(lambda s: s.holdout.get("num_holdout")),
        sweep_holdout_sha256=join(lambda s: s.holdout.get("sha256")),
        sweep_points_device_seconds=join(lambda s: (c := points_cost(s)) and c["device_seconds"]),
    )
