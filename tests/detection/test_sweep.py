"""Held-out recipe selection for `maebench detect` (detection/sweep.py on mae_backbone/runtime/sweep.py): the held-out
images are reproducible, the grid points read no validation file, and the best point is refit and evaluated once
on val, with the sweep's record in metrics.json."""

from __future__ import annotations

import json
import shutil

import pytest

from mae_backbone.errors import BadInputError
from mae_backbone.runtime.sweep import HOLDOUT_DIR, prepare_holdout
from tests.detection.conftest import DEMO_CONFIG, TINY_OVERRIDES
from tools.commands import load_task

pytest.importorskip("mmdet")
GRID = {"optim.lr": [1e-4, 2e-4]}


def test_the_points_read_no_validation_file_and_the_best_is_refit_once(demo_world, tmp_path):
    data = tmp_path / "coco"
    shutil.copytree(demo_world["coco"], data)
    shutil.copytree(data, tmp_path / "coco_saved")
    val_ann = data / "annotations" / "instances_val2017.json"
    val_ann.write_text("not json")  # any read of the validation split now fails loudly
    for image in (data / "val2017").iterdir():
        image.write_bytes(b"")
    task = load_task("detect")
    overrides = [*TINY_OVERRIDES, f"sweep.grid={GRID!r}", "sweep.holdout=0.25"]
    cfg = task.build_cfg(DEMO_CONFIG, overrides, data=str(data), work_dir=str(tmp_path / "run"), launcher="none")
    with pytest.raises(BadInputError, match="instances_val2017.json"):  # the refit is the first to read val
        task.execute(cfg)
    view = tmp_path / "run" / HOLDOUT_DIR
    points = sorted((tmp_path / "run" / "sweep").glob("p*/metrics.json"))
    assert len(points) == 2  # both points trained and were scored without touching val
    for path in points:
        dataset = json.loads(path.read_text())["protocol"]["dataset"]
        assert set(dataset) >= {"fit", "holdout"} and dataset["fit"]["root"] == str(view)
        assert dataset["fit"]["images"] + dataset["holdout"]["images"] == demo_world["counts"]["coco"]["train"]
    held = json.loads((view / "annotations" / "instances_holdout.json").read_text())
    assert [im["file_name"] for im in held["images"]] == (view / "holdout.txt").read_text().split()

    shutil.rmtree(data)
    shutil.copytree(tmp_path / "coco_saved", data)
    metrics = task.execute(cfg)  # the points are done: only the refit runs
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    sweep = record["sweep"]
    assert metrics["sweep"] == sweep and sweep["metric"] == "bbox.AP"
    assert set(sweep) == {"metric", "chosen", "holdout_score", "val_score", "gap", "holdout", "points"}
    assert sweep["val_score"] == metrics["bbox"]["AP"] and sweep["gap"] == pytest.approx(
        sweep["val_score"] - sweep["holdout_score"]
    )
    scores = [p["holdout_score"] for p in sweep["points"]]
    assert sweep["chosen"] == sweep["points"][scores.index(max(scores))]["values"]
    assert [p["values"] for p in sweep["points"]] == [{"optim.lr": lr} for lr in GRID["optim.lr"]]
    assert sweep["holdout"]["num_holdout"] == 3 and sweep["holdout"]["num_fit"] == 9
    assert record["protocol"]["dataset"]["val2017"]["root"] == str(data)  # the refit read the real val split
    assert record["protocol"]["config"]["optim"]["lr"] == sweep["chosen"]["optim.lr"]

    # reproducible: the same seed carves the same images in another work dir, another seed other ones
    again = prepare_holdout(dict(cfg, work_dir=str(tmp_path / "again")), "detection.sweep:ADAPTER")
    assert again == sweep["holdout"]
    other = dict(cfg, work_dir=str(tmp_path / "other"), sweep=dict(cfg["sweep"], seed=1))
    assert prepare_holdout(other, "detection.sweep:ADAPTER")["sha256"] != again["sha256"]
