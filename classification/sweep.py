"""Held-out recipe selection: a small grid, scored on a part of the training split, never on the validation set.

The paper tunes every transfer setting (A.3, A.4) and its scratch baseline separately (A.2); choosing on the
validation set reports the optimism of the choice as if it were accuracy. So a config's
`sweep = dict(grid={"optim.blr": [1e-3, 1e-2], "aug.preset": ["imagenet", "light"]}, holdout=0.2, seed=0)`:

1. carves a class-balanced, seeded held-out part from the training split (`holdout` of each class, at least one
   image, never the last one), recorded by the sha256 of its file list;
2. trains every grid point on the rest and scores it on the held-out part (`<work_dir>/sweep/p<i>/`), through a
   view of the two parts as an ImageFolder of links (`<work_dir>/sweep/holdout/{train,val}/<label>/`), so the
   points read no validation image at all;
3. refits the best point on the whole training split and evaluates it once on the validation set (the run's
   own work dir and metrics.json, with `sweep` added: the chosen values, the held-out score and the gap).
Finished points are skipped when the sweep runs again. Presets: `aug.preset="light"` turns RandAugment, mixup,
cutmix and random erasing off, for runs of a few hundred steps that ImageNet-scale regularisation cripples.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.fileio import atomic_write_json, atomic_write_text
from mae_backbone.runtime.config import apply_overrides

SWEEP_FILE = "sweep.json"
AUG_PRESETS = {"imagenet": {}, "light": dict(auto_augment=None, reprob=0.0, mixup=0.0, cutmix=0.0)}


def apply_aug_preset(cfg: dict[str, Any]) -> None:
    """`aug.preset` sets the augmentation keys it names (imagenet: the config's own values)."""
    aug = cfg.get("aug") or {}
    preset = aug.get("preset", "imagenet")
    if preset not in AUG_PRESETS:
        raise ConfigError(f"aug.preset={preset!r}: choose one of {', '.join(AUG_PRESETS)}")
    aug.update({k: v for k, v in AUG_PRESETS[preset].items() if k in aug})


def grid_points(grid: dict[str, list[Any]]) -> list[list[str]]:
    """Every combination of the grid as KEY=VALUE overrides, in the grid's order."""
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, (list, tuple)) and v for v in grid.values()):
        raise ConfigError(f"sweep.grid must map config keys to non-empty lists of values, got {grid!r}")
    keys = list(grid)
    return [[f"{k}={v!r}" for k, v in zip(keys, values)] for values in itertools.product(*grid.values())]


def holdout_indices(labels: list[int], fraction: float, seed: int) -> list[int]:
    """A class-balanced held-out part: per class round(fraction x n) images (at least 1, never all), seeded."""
    if not 0 < fraction < 1:
        raise ConfigError(f"sweep.holdout={fraction}: give the held-out fraction of the training split, e.g. 0.2")
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    chosen = []
    for y, idx in sorted(by_class.items()):
        n = min(max(1, round(fraction * len(idx))), len(idx) - 1)
        chosen += random.Random(f"{seed}:{y}").sample(idx, n) if n > 0 else []
    return sorted(chosen)


def holdout_view(train: Any, fraction: float, seed: int, dest: Path) -> dict[str, Any]:
    """`dest/{train,val}/<label>/` links to the fitting and held-out images; the held-out list and its sha256."""
    held = set(holdout_indices(train.labels, fraction, seed))
    width = len(str(len(train.classes)))
    for part in ("train", "val"):
        for y in range(len(train.classes)):
            (dest / part / f"{y:0{width}d}").mkdir(parents=True, exist_ok=True)
    names = []
    for i, (path, y) in enumerate(zip(train.files, train.labels)):
        part = "val" if i in held else "train"
        link = dest / part / f"{y:0{width}d}" / f"{i:07d}_{Path(path).name}"
        if not link.exists():
            os.symlink(Path(path).resolve(), link)
        if i in held:
            names.append(
                str(Path(path).relative_to(train.root)) if Path(path).is_relative_to(train.root) else str(path)
            )
    listing = "".join(n + "\n" for n in names)
    atomic_write_text(dest / "holdout.txt", listing)
    return dict(
        root=str(dest),
        fraction=fraction,
        seed=seed,
        num_holdout=len(held),
        num_fit=len(train.files) - len(held),
        sha256=hashlib.sha256(listing.encode()).hexdigest()[:16],
    )


def point_cfg(cfg: dict[str, Any], overrides: list[str], work_dir: Path, view: dict[str, Any] | None) -> dict:
    sub = copy.deepcopy(cfg)
    apply_overrides(sub, overrides, source="sweep.grid")
    apply_aug_preset(sub)
    sub["sweep"] = dict(sub["sweep"], grid=None)
    sub["work_dir"] = str(work_dir)
    if view is not None:  # the held-out view: an ImageFolder whose val/ is the held-out part of train
        sub["data"].update(format="imagefolder", root=view["root"], fraction=None, shots=None, subset_file=None)
    return sub


def run_sweep(cfg: dict[str, Any], run_one: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """The sweep of `cfg["sweep"]`: points on the held-out view, then the best point refit and evaluated once."""
    from .datasets import build_split

    sweep, work_dir = cfg["sweep"], Path(cfg["work_dir"])
    if cfg.get("eval_only"):
        raise ConfigError("--eval-only evaluates one classifier: drop sweep.grid")
    train = build_split(cfg["data"], "train")  # the low-shot subset when the config asks for one
    view = holdout_view(
        train, float(sweep.get("holdout", 0.2)), int(sweep.get("seed", 0)), work_dir / "sweep" / "holdout"
    )
    points = []
    for i, overrides in enumerate(grid_points(sweep["grid"])):
        sub = point_cfg(cfg, overrides, work_dir / "sweep" / f"p{i}", view)
        done = Path(sub["work_dir"]) / "metrics.json"
        metrics = json.loads(done.read_text())["metrics"] if done.is_file() else run_one(sub)
        points.append(dict(overrides=overrides, holdout_top1=metrics["top1"], work_dir=sub["work_dir"]))
        print(f"sweep point {i}: {' '.join(overrides)}: held-out top-1 {metrics['top1']:.2f}", flush=True)
    best = max(points, key=lambda p: p["holdout_top1"])  # the first of equals: grid order decides ties
    final = run_one(point_cfg(cfg, best["overrides"], work_dir, None))
    summary = dict(
        grid=sweep["grid"],
        holdout=view,
        points=points,
        chosen=best["overrides"],
        holdout_top1=best["holdout_top1"],
        top1=final["top1"],
        gap=final["top1"] - best["holdout_top1"],
    )
    atomic_write_json(work_dir / SWEEP_FILE, summary)
    record = work_dir / "metrics.json"
    if record.is_file():
        data = json.loads(record.read_text())
        data["sweep"] = {k: summary[k] for k in ("chosen", "holdout_top1", "gap")} | dict(
            holdout_sha256=view["sha256"], points=len(points)
        )
        atomic_write_json(record, data)
    return dict(final, sweep=dict(chosen=best["overrides"], holdout_top1=best["holdout_top1"], gap=summary["gap"]))
