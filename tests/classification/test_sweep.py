"""Held-out recipe selection (mae_backbone/runtime/sweep.py with classification/sweep.py): the held-out part is
class-balanced and reproducible, the grid points never read a validation image, and the best point is refit and
evaluated once on val."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from classification.sweep import holdout_indices
from mae_backbone.errors import ConfigError
from mae_backbone.runtime.sweep import grid_points
from tests.sweep_checks import check_record, sweep_without_val
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


def _spoil(data: Path) -> None:
    for image in (data / "val").rglob("*.*"):  # any read of a validation image now fails loudly
        image.write_bytes(b"")


def test_the_points_read_no_validation_image_and_the_best_is_refit_once(demo_world, tmp_path):
    data = tmp_path / "imagenet"
    shutil.copytree(demo_world["imagenet"], data)
    task = load_task("finetune")
    grid = {"optim.blr": [1e-3, 1e-2], "aug.preset": ["light"]}
    overrides = TINY + [f"sweep.grid={grid!r}", "sweep.holdout=0.34"]
    cfg = task.build_cfg(None, overrides, data=str(data), work_dir=str(tmp_path / "run"), seed=0)
    points, metrics = sweep_without_val(task, cfg, data, _spoil, match="val")
    for point in points:
        assert point["protocol"]["dataset"]["val"]["root"].endswith("sweep/holdout")  # the view, not data/
    sweep = check_record(cfg, metrics, "top1", val_split="val")
    held = (tmp_path / "run" / "sweep" / "holdout" / "holdout.txt").read_text().split()
    assert held and not any(name.startswith("val") for name in held)
    assert len(held) == sweep["holdout"]["num_holdout"]
