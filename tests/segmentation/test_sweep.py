"""Held-out recipe selection for `maebench segment` (segmentation/sweep.py on mae_backbone/runtime/sweep.py): the
held-out pairs are reproducible, the grid points read no validation file, and the best point is refit and evaluated
once on val, with the sweep's record in metrics.json."""

from __future__ import annotations

import shutil
from pathlib import Path

from mae_backbone.runtime.sweep import HOLDOUT_DIR
from tests.sweep_checks import check_record, check_reproducible, sweep_without_val
from tools.commands import load_task

from .conftest import CONFIG, TINY_OVERRIDES

GRID = {"optim.lr": [1e-3, 2e-3]}
SHORT = ["schedule.iters=6", "schedule.warmup_iters=2", "schedule.checkpoint_interval=6", "schedule.log_interval=2"]


def _spoil(data: Path) -> None:  # any read of the validation split now fails loudly
    for kind in ("images", "annotations"):
        for path in (data / kind / "validation").iterdir():
            path.write_bytes(b"")


def test_the_points_read_no_validation_file_and_the_best_is_refit_once(ade_root, tmp_path):
    data = tmp_path / "ade"
    shutil.copytree(ade_root, data)
    task = load_task("segment")
    overrides = [*TINY_OVERRIDES, *SHORT, f"sweep.grid={GRID!r}", "sweep.holdout=0.25"]
    cfg = task.build_cfg(CONFIG, overrides, data=str(data), work_dir=str(tmp_path / "run"), launcher="none")
    points, metrics = sweep_without_val(task, cfg, data, _spoil, match="validation")
    view = tmp_path / "run" / HOLDOUT_DIR
    for point in points:
        dataset = point["protocol"]["dataset"]
        assert dataset["val"]["root"] == str(view) and dataset["val"]["num_files"] == 2 * 3  # 3 held-out pairs
    held = sorted(p.name for p in (view / "images" / "validation").iterdir())
    assert held == sorted(name.split("/")[-1] for name in (view / "holdout.txt").read_text().split())
    assert not set(held) & {p.name for p in (view / "images" / "training").iterdir()}

    sweep = check_record(cfg, metrics, "mIoU", val_split="val")
    assert sweep["holdout"]["num_holdout"] == 3 and sweep["holdout"]["num_fit"] == 9
    check_reproducible(cfg, "segmentation.sweep:ADAPTER", sweep["holdout"], tmp_path)
