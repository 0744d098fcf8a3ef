"""Held-out recipe selection for `maebench detect` (detection/sweep.py on mae_backbone/runtime/sweep.py): the held-out
images are reproducible, the grid points read no validation file, and the best point is refit and evaluated once
on val, with the sweep's record in metrics.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mae_backbone.runtime.sweep import HOLDOUT_DIR
from tests.detection.conftest import DEMO_CONFIG, TINY_OVERRIDES
from tests.sweep_checks import check_record, check_reproducible, sweep_without_val
from tools.commands import load_task

pytest.importorskip("mmdet")
GRID = {"optim.lr": [1e-4, 2e-4]}


def _spoil(data: Path) -> None:  # any read of the validation split now fails loudly
    (data / "annotations" / "instances_val2017.json").write_text("not json")
    for image in (data / "val2017").iterdir():
        image.write_bytes(b"")


def test_the_points_read_no_validation_file_and_the_best_is_refit_once(demo_world, tmp_path):
    data = tmp_path / "coco"
    shutil.copytree(demo_world["coco"], data)
    task = load_task("detect")
    overrides = [*TINY_OVERRIDES, f"sweep.grid={GRID!r}", "sweep.holdout=0.25"]
    cfg = task.build_cfg(DEMO_CONFIG, overrides, data=str(data), work_dir=str(tmp_path / "run"), launcher="none")
    points, metrics = sweep_without_val(task, cfg, data, _spoil, match="instances_val2017.json")
    view = tmp_path / "run" / HOLDOUT_DIR
    for point in points:
        dataset = point["protocol"]["dataset"]
        assert set(dataset) >= {"fit", "holdout"} and dataset["fit"]["root"] == str(view)
        assert dataset["fit"]["images"] + dataset["holdout"]["images"] == demo_world["counts"]["coco"]["train"]
    held = json.loads((view / "annotations" / "instances_holdout.json").read_text())
    assert [im["file_name"] for im in held["images"]] == (view / "holdout.txt").read_text().split()

    sweep = check_record(cfg, metrics, "bbox.AP", val_split="val2017")
    assert sweep["holdout"]["num_holdout"] == 3 and sweep["holdout"]["num_fit"] == 9
    check_reproducible(cfg, "detection.sweep:ADAPTER", sweep["holdout"], tmp_path)
