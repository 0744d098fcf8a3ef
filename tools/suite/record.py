"""The suite's own record, `<work_dir>/metrics.json` (task "suite"): one entry per stage with what the report
needs to label its numbers (backbone and its source, protocol, seed, architecture, published anchor) and where
it stands (status, error, times, cost, Slurm job). Both executors and `--status` write it the same way, from the
stages' own records (`<stage>/suite_stage.json`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mae_backbone.runtime.records import METRICS_FILE, write_metrics

from .cache import read_stage
from .stages import Stage

STATES = ("done", "cached", "failed", "blocked", "running", "pending", "not run")
COPIED = (
    "status",
    "error",
    "log",
    "seconds",
    "cpu_seconds",
    "peak_rss_mib",
    "started_at",
    "ended_at",
    "job_id",
    "attempts",
)


def previous(root: Path) -> dict[str, Any]:
    path = root / METRICS_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, OSError):
        return {}  # an unreadable old record only costs the time estimates


def labels(suite: dict[str, Any], stage: Stage) -> dict[str, Any]:
    backbones = suite["backbones"]
    pretrained_arch = next((b["arch"] for b in backbones.values() if b["source"] == "pretrain"), None)
    return dict(
        protocol=stage.protocol,
        task=stage.spec.task,
        backbone=stage.backbone,
        seed=stage.seed,
        work_dir=str(stage.work_dir.relative_to(suite["work_dir"])),
        anchor=stage.anchor,
        arch=backbones[stage.backbone]["arch"] if stage.backbone else pretrained_arch,
        needs=stage.needs,
        **({"sweep_point": stage.point} if stage.point is not None else {}),  # scored on held-out train: no table
    )


def from_stage_records(suite: dict[str, Any], planned: list[Stage]) -> dict[str, dict[str, Any]]:
    """Each stage's labels and its own record's state (a stage without a record: "not run")."""
    info = {}
    for s in planned:
        rec = read_stage(s)
        entry = labels(suite, s)
        entry.update({k: rec.get(k) for k in COPIED if k in rec})
        if entry.get("status") == "done" and not s.done_path.is_file():
            entry["status"] = "not run"  # its folder was removed by hand
        entry.setdefault("status", "not run")
        info[s.name] = entry
    return info


def write(suite: dict[str, Any], info: dict[str, dict[str, Any]], launcher: str, **extra: Any) -> None:
    """The suite record from `info` (rank 0 only)."""
    if int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", 0))) != 0:
        return
    counts = {k: sum(1 for v in info.values() if v["status"] == k) for k in STATES}
    backbones = {
        k: {f: v.get(f) for f in ("source", "arch", "img_size", "checkpoint", "overrides", "sweep")}
        for k, v in suite["backbones"].items()
    }
    write_metrics(
        suite["work_dir"],
        {"stages": counts, **extra.pop("metrics", {})},
        protocol=dict(
            config=suite["config_path"],
            data=suite["data"],
            demo=suite.get("demo"),
            launcher=launcher,
            **extra.pop("protocol", {}),
        ),
        task="suite",
        seed=suite.get("seed"),
        extra=dict(stages=info, backbones=backbones, seeds=suite["seeds"], baseline=suite.get("baseline"), **extra),
    )
