"""What every task's held-out sweep test checks of its record (mae_backbone/runtime/sweep.py), in one place."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mae_backbone.errors import BadInputError
from mae_backbone.runtime.sweep import prepare_holdout, score

RECORD_KEYS = {"metric", "chosen", "holdout_score", "val_score", "gap", "holdout", "points"}


def sweep_without_val(task: Any, cfg: dict[str, Any], data: Path, spoil: Any, match: str) -> tuple[list, dict]:
    """Run the sweep of `cfg` with the validation files of `data` spoilt by `spoil(data)`: the points finish and
    the refit, the first to read val, fails (`match`); then with them restored only the refit runs. Returns the
    points' metrics.json records and the refit's metrics."""
    saved = data.parent / f"{data.name}_saved"
    shutil.copytree(data, saved)
    spoil(data)
    with pytest.raises(BadInputError, match=match):
        task.execute(cfg)
    points = [json.loads(p.read_text()) for p in sorted((Path(cfg["work_dir"]) / "sweep").glob("p*/metrics.json"))]
    assert len(points) == len(list(itertools.product(*cfg["sweep"]["grid"].values())))  # all scored without val
    shutil.rmtree(data)
    shutil.copytree(saved, data)
    return points, task.execute(cfg)


def check_record(cfg: dict[str, Any], metrics: dict[str, Any], metric: str, val_split: str) -> dict[str, Any]:
    """The refit's metrics and `<work_dir>/metrics.json` carry the same record, in the format the report and the
    suite read, choosing the first best point in grid order; `sweep.json` is the record and its grid; the refit
    ran the chosen values on the real validation split (`val_split`, the protocol's name for it)."""
    work_dir, grid = Path(cfg["work_dir"]), cfg["sweep"]["grid"]
    final = json.loads((work_dir / "metrics.json").read_text())
    record = final["sweep"]
    assert metrics["sweep"] == record and set(record) == RECORD_KEYS and record["metric"] == metric
    assert json.loads((work_dir / "sweep.json").read_text()) == dict(record, grid=grid)
    assert set(record["holdout"]) == {"fraction", "seed", "num_holdout", "num_fit", "sha256"}
    keys, values = list(grid), [p["values"] for p in record["points"]]
    assert values == [dict(zip(keys, v)) for v in itertools.product(*grid.values())]
    scores = [p["holdout_score"] for p in record["points"]]
    assert record["chosen"] == values[scores.index(max(scores))] and record["holdout_score"] == max(scores)
    assert record["val_score"] == score(metrics, metric)
    assert record["gap"] == pytest.approx(record["val_score"] - record["holdout_score"])
    assert final["protocol"]["dataset"][val_split]["root"] == cfg["data"]["root"]
    for key, value in record["chosen"].items():
        node = final.get("config") or final["protocol"]["config"]  # classification keeps it at the top
        for part in key.split("."):
            node = node[part]
        assert node == value
    return record


def check_reproducible(cfg: dict[str, Any], adapter: str, holdout: dict[str, Any], tmp_path: Path) -> None:
    """The same seed carves the same part in another work dir; another seed another part."""
    assert prepare_holdout(dict(cfg, work_dir=str(tmp_path / "again")), adapter) == holdout
    other = dict(cfg, work_dir=str(tmp_path / "other"), sweep=dict(cfg["sweep"], seed=cfg["sweep"]["seed"] + 1))
    assert prepare_holdout(other, adapter)["sha256"] != holdout["sha256"]
