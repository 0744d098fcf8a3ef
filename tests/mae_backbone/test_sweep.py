"""The task-agnostic sweep driver (mae_backbone/runtime/sweep.py): grid order, seeded subsets, one held-out view
even when point jobs write it at once, a refused mismatch, pure point configs, and the best point by the score
key (ties: the first in grid order). The task adapters are tested with real runs in each task's tests."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.sweep import (
    HOLDOUT_DIR,
    SweepAdapter,
    best_point,
    grid_points,
    point_cfgs,
    prepare_holdout,
    refit_cfg,
    seeded_subset,
    sweep_record,
)


def _carve(cfg: dict, dest: Path, fraction: float, seed: int) -> tuple[list[str], int]:
    """A list of 10 named items: the held-out names go to dest/held.txt."""
    names = [f"item{i}" for i in range(10)]
    held = [names[i] for i in seeded_subset(len(names), fraction, seed)]
    (dest / "held.txt").write_text("\n".join(held))
    return held, len(names) - len(held)


LIST = SweepAdapter(metric="score.main", data=lambda cfg, dest: dict(root=str(dest)), carve=_carve)


def _cfg(work_dir: Path, **sweep) -> dict:
    grid = {"optim.lr": [0.1, 0.2], "model.depth": [1, 2]}
    return dict(
        work_dir=str(work_dir),
        data=dict(root="/data/list", split="train"),
        optim=dict(lr=0.0),
        model=dict(depth=0),
        sweep=dict(dict(grid=grid, holdout=0.2, seed=0), **sweep),
    )


def test_grid_order_and_seeded_subsets():
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [["a=1", "b='x'"], ["a=2", "b='x'"]]
    with pytest.raises(ConfigError, match="non-empty lists"):
        grid_points({"a": []})
    assert seeded_subset(10, 0.2, 0) == seeded_subset(10, 0.2, 0) != seeded_subset(10, 0.2, 1)
    assert len(seeded_subset(10, 0.2, 0)) == 2 and len(seeded_subset(2, 0.01, 0)) == 1  # at least one
    assert seeded_subset(1, 0.5, 0) == []  # never all


def test_point_cfgs_are_pure_and_read_the_view(tmp_path):
    cfg = _cfg(tmp_path / "run")
    points = point_cfgs(cfg, LIST)
    assert not (tmp_path / "run").exists()  # no I/O
    assert [(p["optim"]["lr"], p["model"]["depth"]) for p in points] == [(0.1, 1), (0.1, 2), (0.2, 1), (0.2, 2)]
    assert [p["work_dir"] for p in points] == [str(tmp_path / "run" / "sweep" / f"p{i}") for i in range(4)]
    assert all(p["data"] == dict(root=str(tmp_path / "run" / HOLDOUT_DIR), split="train") for p in points)
    assert all(p["sweep"]["grid"] is None for p in points) and cfg["optim"]["lr"] == 0.0
    refit = refit_cfg(cfg, LIST, {"optim.lr": 0.2, "model.depth": 1})
    assert refit["work_dir"] == cfg["work_dir"] and refit["data"] == cfg["data"] and refit["optim"]["lr"] == 0.2


def test_one_view_when_point_jobs_write_it_at_once(tmp_path):
    cfg = _cfg(tmp_path / "run")
    records: list[dict] = []
    jobs = [threading.Thread(target=lambda: records.append(prepare_holdout(cfg, LIST))) for _ in range(4)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    assert len(records) == 4 and all(r == records[0] for r in records)
    assert records[0]["num_holdout"] == 2 and records[0]["num_fit"] == 8 and len(records[0]["sha256"]) == 16
    view = tmp_path / "run" / HOLDOUT_DIR
    assert (view / "held.txt").read_text().split() == (view / "holdout.txt").read_text().split()
    assert [p.name for p in (tmp_path / "run" / "sweep").iterdir()] == ["holdout"]  # no temporary folder left
    assert prepare_holdout(cfg, LIST) == records[0]  # reused
    with pytest.raises(ConfigError, match="another work dir"):
        prepare_holdout(_cfg(tmp_path / "run", seed=1), LIST)


def test_the_best_point_by_the_score_key_and_the_record(tmp_path):
    cfg = _cfg(tmp_path / "run")
    points = [{"score": {"main": s}} for s in (1.0, 3.0, 3.0, float("nan"))]
    assert best_point(cfg, LIST, points) == 1  # the first of equals; NaN ranks last
    holdout = dict(fraction=0.2, seed=0, num_holdout=2, num_fit=8, sha256="0" * 16)
    record = sweep_record(cfg, LIST, holdout, points, {"score": {"main": 2.5}})
    assert record["metric"] == "score.main" and record["chosen"] == {"optim.lr": 0.1, "model.depth": 2}
    assert (record["holdout_score"], record["val_score"], record["gap"]) == (3.0, 2.5, -0.5)
    assert record["points"][0] == {"values": {"optim.lr": 0.1, "model.depth": 1}, "holdout_score": 1.0}
