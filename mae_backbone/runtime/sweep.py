"""Held-out recipe selection for any transfer task: a small grid, scored on a part of the training split only.

The paper tunes every transfer setting (A.3, A.4) and its scratch baseline separately (A.2); choosing on the
validation set reports the optimism of the choice as if it were accuracy. So a config's
`sweep = dict(grid={"optim.lr": [1e-4, 3e-4]}, holdout=0.2, seed=0)`:

1. carves a seeded held-out part from the training split into `<work_dir>/sweep/holdout/` (built in a temporary
   folder and renamed into place, so point jobs started together agree on one view), recorded by the sha256
   of its file list;
2. trains every grid point on the rest (`<work_dir>/sweep/p<i>/`, the task's config with `data` pointing at the
   view: it reads no validation file at all) and scores it on the held-out part by the task's metric;
3. refits the best point (ties: the first in grid order) on the whole training split in the run's own work dir,
   evaluates it once on val, and records the choice in `sweep.json` and under `"sweep"` in `metrics.json`.

What differs per task is small and lives in the task's package (`<task>/sweep.py: ADAPTER`): how the view is
carved and pointed at, and which metric scores a point. Finished points are skipped, so a suite may run each
point as its own job (`point_cfgs`) and then `run_sweep` only refits.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import itertools
import json
import math
import os
import random
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import atomic_write_json, atomic_write_text
from .config import apply_overrides

SWEEP_FILE = "sweep.json"  # <work_dir>/sweep.json: the record below, plus the grid
SWEEP_DIR = "sweep"  # under the run's work dir: the points (p<i>/, see point_dir) and the held-out view
HOLDOUT_DIR = f"{SWEEP_DIR}/holdout"
HOLDOUT_FILE = "holdout.json"  # in the view: its record (written last: a view without it is incomplete)
Metrics = dict[str, Any]


@dataclass(frozen=True)
class SweepAdapter:
    """The per-task part of a sweep."""

    metric: str  # the dotted key of the run's metrics that scores a point, higher is better ("bbox.AP")
    data: Callable[[dict[str, Any], Path], dict[str, Any]]  # pure: cfg["data"] keys reading the view at `dest`
    # writes the view of cfg's training split into `dest`: (held-out file names, number of fitting items)
    carve: Callable[[dict[str, Any], Path, float, int], tuple[list[str], int]]
    finish: Callable[[dict[str, Any]], None] | None = None  # after a point's overrides (classification: presets)


def point_dir(work_dir: str | Path, i: int) -> Path:
    """The work dir of grid point `i` of the run in `work_dir`."""
    return Path(work_dir) / SWEEP_DIR / f"p{i}"


def resolve_adapter(adapter: SweepAdapter | str) -> SweepAdapter:
    """An adapter, or its "module:NAME" (a Task's `sweep_adapter`), imported only now."""
    if isinstance(adapter, SweepAdapter):
        return adapter
    module, name = adapter.split(":")
    return getattr(importlib.import_module(module), name)


def grid_values(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid as {config key: value}, in the grid's order (the last key varies fastest)."""
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, (list, tuple)) and v for v in grid.values()):
        raise ConfigError(f"sweep.grid must map config keys to non-empty lists of values, got {grid!r}")
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def grid_points(grid: dict[str, list[Any]]) -> list[list[str]]:
    """Every combination of the grid as KEY=VALUE overrides, in the grid's order."""
    return [[f"{k}={v!r}" for k, v in values.items()] for values in grid_values(grid)]


def seeded_subset(n: int, fraction: float, seed: int, salt: object = "") -> list[int]:
    """round(fraction x n) of the positions 0..n-1 (at least 1, never all), drawn with `seed`, sorted."""
    k = min(max(1, round(fraction * n)), n - 1)
    return sorted(random.Random(f"{seed}:{salt}").sample(range(n), k)) if k > 0 else []


def holdout_args(cfg: dict[str, Any]) -> tuple[float, int]:
    sweep = cfg.get("sweep") or {}
    fraction, seed = float(sweep.get("holdout", 0.2)), int(sweep.get("seed", 0))
    if not 0 < fraction < 1:
        raise ConfigError(f"sweep.holdout={fraction}: give the held-out fraction of the training split, e.g. 0.2")
    return fraction, seed


def _with(cfg: dict[str, Any], adapter: SweepAdapter, values: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    sub = copy.deepcopy(cfg)
    apply_overrides(sub, [f"{k}={v!r}" for k, v in values.items()], source="sweep.grid")
    if adapter.finish is not None:
        adapter.finish(sub)
    sub["sweep"] = dict(sub["sweep"], grid=None)
    sub["work_dir"] = str(work_dir)
    return sub


def point_cfgs(cfg: dict[str, Any], adapter: SweepAdapter | str) -> list[dict[str, Any]]:
    """Each grid point's resolved config: work dir `<work_dir>/sweep/p<i>`, no grid, data reading the view."""
    adapter = resolve_adapter(adapter)
    work_dir = Path(cfg["work_dir"])
    view = adapter.data(cfg, work_dir / HOLDOUT_DIR)
    points = []
    for i, values in enumerate(grid_values(cfg["sweep"]["grid"])):
        sub = _with(cfg, adapter, values, point_dir(work_dir, i))
        sub["data"].update(view)
        points.append(sub)
    return points


def refit_cfg(cfg: dict[str, Any], adapter: SweepAdapter | str, values: dict[str, Any]) -> dict[str, Any]:
    """The chosen values on the whole training split, in the run's own work dir (val read once, by its test)."""
    return _with(cfg, resolve_adapter(adapter), values, Path(cfg["work_dir"]))


def prepare_holdout(cfg: dict[str, Any], adapter: SweepAdapter | str) -> dict[str, Any]:
    """Write the held-out view (once: a complete one is reused) and return its record.

    Safe when several point jobs call it at once: each builds in its own temporary folder and renames it into
    place; a rename that finds the view already there leaves the other job's."""
    adapter = resolve_adapter(adapter)
    fraction, seed = holdout_args(cfg)
    dest = Path(cfg["work_dir"]) / HOLDOUT_DIR
    wanted = dict(fraction=fraction, seed=seed, data_root=str(cfg["data"].get("root")))
    if not (dest / HOLDOUT_FILE).is_file():
        tmp = dest.parent / f".holdout-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            held, num_fit = adapter.carve(cfg, tmp, fraction, seed)
            listing = "".join(name + "\n" for name in held)
            atomic_write_text(tmp / "holdout.txt", listing)
            sha = hashlib.sha256(listing.encode()).hexdigest()[:16]
            record = dict(fraction=fraction, seed=seed, num_holdout=len(held), num_fit=num_fit, sha256=sha)
            atomic_write_json(tmp / HOLDOUT_FILE, dict(record, data_root=wanted["data_root"]))
            try:
                os.rename(tmp, dest)
            except OSError:
                if not (dest / HOLDOUT_FILE).is_file():
                    raise ConfigError(f"{dest}: an incomplete held-out view (no {HOLDOUT_FILE}); delete it") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    found = json.loads((dest / HOLDOUT_FILE).read_text())
    if {k: found.get(k) for k in wanted} != wanted:
        raise ConfigError(
            f"{dest} holds the held-out part of { ({k: found.get(k) for k in wanted}) }, this run asks for {wanted}: "
            f"give the run another work dir, or delete {dest.parent} to redo its points"
        )
    return {k: found[k] for k in ("fraction", "seed", "num_holdout", "num_fit", "sha256")}


def score(metrics: Metrics, key: str) -> float:
    """A dotted metric key (`bbox.AP`) of a run's metrics."""
    value: Any = metrics
    for part in key.split("."):
        value = value[part]
    return float(value)


def finished_metrics(work_dir: str | Path) -> Metrics | None:
    """The metrics of a run that wrote its metrics.json (a finished point), else None."""
    record = Path(work_dir) / "metrics.json"
    return json.loads(record.read_text())["metrics"] if record.is_file() else None


def best_point(cfg: dict[str, Any], adapter: SweepAdapter | str, points: list[Metrics]) -> int:
    """The index of the best point by the task's metric; the first of equals: grid order decides ties (NaN: last)."""
    scores = [score(m, resolve_adapter(adapter).metric) for m in points]
    return max(range(len(scores)), key=lambda i: -math.inf if math.isnan(scores[i]) else scores[i])


def sweep_record(
    cfg: dict[str, Any], adapter: SweepAdapter | str, holdout: dict[str, Any], points: list[Metrics], final: Metrics
) -> dict[str, Any]:
    """The `"sweep"` entry of metrics.json (what the report and the suite read) from the points' and the refit's
    metrics."""
    adapter = resolve_adapter(adapter)
    values = grid_values(cfg["sweep"]["grid"])
    scores = [score(m, adapter.metric) for m in points]
    best = best_point(cfg, adapter, points)
    val = score(final, adapter.metric)
    return dict(
        metric=adapter.metric,
        chosen=values[best],
        holdout_score=scores[best],
        val_score=val,
        gap=val - scores[best],
        holdout=holdout,
        points=[dict(values=v, holdout_score=s) for v, s in zip(values, scores)],
    )


def write_record(cfg: dict[str, Any], record: dict[str, Any]) -> None:
    """`<work_dir>/sweep.json` (the record and its grid) and the record under `"sweep"` in metrics.json (rank 0)."""
    from mmengine.dist import get_rank

    if get_rank() != 0:
        return
    work_dir = Path(cfg["work_dir"])
    atomic_write_json(work_dir / SWEEP_FILE, dict(record, grid=cfg["sweep"]["grid"]))
    metrics = work_dir / "metrics.json"
    if metrics.is_file():
        atomic_write_json(metrics, dict(json.loads(metrics.read_text()), sweep=record))


def run_sweep(cfg: dict[str, Any], adapter: SweepAdapter | str, run_one: Callable[[dict], Metrics]) -> Metrics:
    """The sweep of `cfg["sweep"]`: every unfinished point on the held-out view, then the best refit once.
    Returns the refit's metrics with `"sweep"` (the record)."""
    adapter = resolve_adapter(adapter)
    if cfg.get("eval_only"):
        raise ConfigError("--eval-only evaluates one model: drop sweep.grid")
    holdout = prepare_holdout(cfg, adapter)
    points = []
    for i, sub in enumerate(point_cfgs(cfg, adapter)):
        metrics = finished_metrics(sub["work_dir"]) or run_one(sub)
        points.append(metrics)
        shown = " ".join(f"{k}={v!r}" for k, v in grid_values(cfg["sweep"]["grid"])[i].items())
        print(f"sweep point {i}: {shown}: held-out {adapter.metric} {score(metrics, adapter.metric):.2f}", flush=True)
    best = grid_values(cfg["sweep"]["grid"])[best_point(cfg, adapter, points)]
    final = run_one(refit_cfg(cfg, adapter, best))
    record = sweep_record(cfg, adapter, holdout, points, final)
    write_record(cfg, record)
    return dict(final, sweep=record)


def run_or_sweep(
    run: Callable[..., Metrics], cfg: dict[str, Any], nan_retry: int = 0, adapter: SweepAdapter | str | None = None
) -> Metrics:
    """One run, its cost measured and retried after a non-finite loss; with `sweep.grid` (and the task's adapter)
    the held-out sweep of such runs."""
    from .cost import measure
    from .nonfinite import run_with_nan_retry

    def one(sub: dict[str, Any]) -> Metrics:
        return measure(lambda c: run_with_nan_retry(run, c, nan_retry), sub)

    if adapter is not None and (cfg.get("sweep") or {}).get("grid"):
        return run_sweep(cfg, adapter, one)
    return one(cfg)
