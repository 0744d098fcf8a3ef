"""Held-out recipe selection for `maebench segment` (segmentation/sweep.py on mae_backbone/runtime/sweep.py): the
held-out pairs are reproducible, the grid points read no validation file, and the best point is refit and evaluated
once on val, with the sweep's record in metrics.json."""

from __future__ import annotations

import json
import shutil

import pytest

from mae_backbone.errors import BadInputError
from mae_backbone.runtime.sweep import HOLDOUT_DIR, prepare_holdout
from tools.commands import load_task

from .conftest import CONFIG, TINY_OVERRIDES

GRID = {"optim.lr": [1e-3, 2e-3]}
SHORT = ["schedule.iters=6", "schedule.warmup_iters=2", "schedule.checkpoint_interval=6", "schedule.log_interval=2"]


def test_the_points_read_no_validation_file_and_the_best_is_refit_once(ade_root, tmp_path):
    data = tmp_path / "ade"
    shutil.copytree(ade_root, data)
    shutil.copytree(data, tmp_path / "ade_saved")
    for kind in ("images", "annotations"):
        for path in (data / kind / "validation").iterdir():  # any read of the validation split now fails loudly
            path.write_bytes(b"")
    task = load_task("segment")
    overrides = [*TINY_OVERRIDES, *SHORT, f"sweep.grid={GRID!r}", "sweep.holdout=0.25"]
    cfg = task.build_cfg(CONFIG, overrides, data=str(data), work_dir=str(tmp_path / "run"), launcher="none")
    with pytest.raises(BadInputError, match="validation"):  # the refit is the first to read val
        task.execute(cfg)
    view = tmp_path / "run" / HOLDOUT_DIR
    points = sorted((tmp_path / "run" / "sweep").glob("p*/metrics.json"))
    assert len(points) == 2  # both points trained and were scored without touching val
    for path in points:
        dataset = json.loads(path.read_text())["protocol"]["dataset"]
        assert dataset["val"]["root"] == str(view) and dataset["val"]["num_files"] == 2 * 3  # 3 held-out pairs
    held = sorted(p.name for p in (view / "images" / "validation").iterdir())
    assert held == sorted(name.split("/")[-1] for name in (view / "holdout.txt").read_text().split())
    assert not set(held) & {p.name for p in (view / "images" / "training").iterdir()}

    shutil.rmtree(data)
    shutil.copytree(tmp_path / "ade_saved", data)
    metrics = task.execute(cfg)  # the points are done: only the refit runs
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    sweep = record["sweep"]
    assert metrics["sweep"] == sweep and sweep["metric"] == "mIoU"
    assert set(sweep) == {"metric", "chosen", "holdout_score", "val_score", "gap", "holdout", "points"}
    assert sweep["val_score"] == metrics["mIoU"]
    assert sweep["gap"] == pytest.approx(sweep["val_score"] - sweep["holdout_score"])
    scores = [p["holdout_score"] for p in sweep["points"]]
    assert sweep["chosen"] == sweep["points"][scores.index(max(scores))]["values"]
    assert [p["values"] for p in sweep["points"]] == [{"optim.lr": lr} for lr in GRID["optim.lr"]]
    assert sweep["holdout"]["num_holdout"] == 3 and sweep["holdout"]["num_fit"] == 9
    assert record["protocol"]["dataset"]["val"]["root"] == str(data)  # the refit read the real val split
    assert record["protocol"]["config"]["optim"]["lr"] == sweep["chosen"]["optim.lr"]

    # reproducible: the same seed carves the same pairs in another work dir, another seed other ones
    again = prepare_holdout(dict(cfg, work_dir=str(tmp_path / "again")), "segmentation.sweep:ADAPTER")
    assert again == sweep["holdout"]
    other = dict(cfg, work_dir=str(tmp_path / "other"), sweep=dict(cfg["sweep"], seed=1))
    assert prepare_holdout(other, "segmentation.sweep:ADAPTER")["sha256"] != again["sha256"]
