"""Held-out recipe selection (mae_backbone/runtime/sweep.py with classification/sweep.py): the held-out part is
class-balanced and reproducible, the grid points never read a validation image, and the best point is refit and
evaluated once on val."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from classification.sweep import holdout_indices
from mae_backbone.errors import BadInputError, ConfigError
from mae_backbone.runtime.sweep import grid_points
from tools.commands import load_task

TINY = [
    "model.img_size=64",
    "data.batch_size=8",
    "data.eval_batch_size=16",
    "data.num_workers=0",
    "schedule.epochs=1",
    "schedule.warmup_epochs=0",
    "optim.precision='fp32'",
]


def test_the_held_out_part_is_class_balanced_and_reproducible():
    labels = [y for y in range(4) for _ in range(10)] + [4, 4]  # a small class of 2
    held = holdout_indices(labels, 0.2, seed=0)
    per_class = Counter(labels[i] for i in held)
    assert per_class == {0: 2, 1: 2, 2: 2, 3: 2, 4: 1}  # round(0.2 n), at least one, never the whole class
    assert held == holdout_indices(labels, 0.2, seed=0) and held != holdout_indices(labels, 0.2, seed=1)
    with pytest.raises(ConfigError, match="held-out fraction"):
        holdout_indices(labels, 1.5, seed=0)
    assert grid_points({"optim.blr": [1e-3, 1e-2], "aug.preset": ["light"]}) == [
        ["optim.blr=0.001", "aug.preset='light'"],
        ["optim.blr=0.01", "aug.preset='light'"],
    ]


def test_the_points_read_no_validation_image_and_the_best_is_refit_once(demo_world, tmp_path):
    data = tmp_path / "imagenet"
    shutil.copytree(demo_world["imagenet"], data)
    saved = tmp_path / "val_saved"
    shutil.copytree(data / "val", saved)
    for image in (data / "val").rglob("*.*"):  # any read of a validation image now fails loudly
        image.write_bytes(b"")
    task = load_task("finetune")
    grid = {"optim.blr": [1e-3, 1e-2], "aug.preset": ["light"]}
    cfg = task.build_cfg(
        None,
        TINY + [f"sweep.grid={grid!r}", "sweep.holdout=0.34"],
        data=str(data),
        work_dir=str(tmp_path / "run"),
        seed=0,
    )
    with pytest.raises(BadInputError):  # the refit's one evaluation on val is the first read of val
        task.execute(cfg)
    points = sorted((tmp_path / "run" / "sweep").glob("p*/metrics.json"))
    assert len(points) == 2  # both points trained and were scored without touching val
    for path in points:
        record = json.loads(path.read_text())
        assert record["protocol"]["dataset"]["val"]["root"].endswith("sweep/holdout")  # the view, not data/
    shutil.rmtree(data / "val")
    shutil.copytree(saved, data / "val")
    metrics = task.execute(cfg)  # the points are done: only the refit runs
    summary = json.loads((tmp_path / "run" / "sweep.json").read_text())
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())["sweep"]
    assert summary == dict(record, grid=grid) and metrics["sweep"] == record
    assert set(record) == {"metric", "chosen", "holdout_score", "val_score", "gap", "holdout", "points"}
    assert set(record["holdout"]) == {"fraction", "seed", "num_holdout", "num_fit", "sha256"}
    assert record["metric"] == "top1" and record["val_score"] == metrics["top1"]
    best = max(record["points"], key=lambda p: p["holdout_score"])  # the first of equals, as the driver
    assert record["chosen"] == best["values"] and record["holdout_score"] == best["holdout_score"]
    assert [p["values"] for p in record["points"]] == [{"optim.blr": b, "aug.preset": "light"} for b in (1e-3, 1e-2)]
    assert record["gap"] == pytest.approx(metrics["top1"] - best["holdout_score"])
    held = (tmp_path / "run" / "sweep" / "holdout" / "holdout.txt").read_text().split()
    assert held and not any(name.startswith("val") for name in held)
    assert len(held) == record["holdout"]["num_holdout"]
    final = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert Path(final["protocol"]["dataset"]["val"]["root"]) == data
