"""`maebench suite --status [WORK_DIR]`: where every stage of a suite stands.

For each stage: pending / running / done / failed / blocked / cached / not run, its Slurm job id, elapsed time,
its log file and its last metric (a finished stage's headline number, a running one's latest logged loss). It
reads the work dir's records (the suite saves its resolved config there as suite_resolved.json) and, when the
suite went to Slurm, `squeue` / `scontrol`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from mae_backbone.errors import ConfigError
from mae_backbone.fileio import atomic_write_text

from .stages import Stage, build_plan

RESOLVED_FILE = "suite_resolved.json"
HEADLINE = ("top1", "bbox.AP", "mIoU", "in_c_mce", "loss")


def save_resolved(suite: dict[str, Any]) -> None:
    """The resolved suite, in its own order (the plan's order: not sorted)."""
    atomic_write_text(Path(suite["work_dir"]) / RESOLVED_FILE, json.dumps(suite, indent=2, default=str) + "\n")


def load_resolved(work_dir: str | Path) -> dict[str, Any]:
    path = Path(work_dir) / RESOLVED_FILE
    if not path.is_file():
        raise ConfigError(
            f"{work_dir}: no suite here ({RESOLVED_FILE} missing); give the work dir of a suite "
            "that was run or submitted"
        )
    return json.loads(path.read_text())


def last_metric(stage: Stage, entry: dict[str, Any]) -> str:
    """A finished stage's headline number, or a running one's latest logged loss (mmengine's scalars.json)."""
    metrics_path = stage.work_dir / "metrics.json"
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text()).get("metrics", {})
        except json.JSONDecodeError:
            metrics = {}
        flat = {
            f"{k}.{k2}" if isinstance(v, dict) else k: v2 if isinstance(v, dict) else v
            for k, v in metrics.items()
            for k2, v2 in (v.items() if isinstance(v, dict) else [(None, v)])
        }
        for key in HEADLINE:
            if isinstance(flat.get(key), (int, float)):  # a sweep point's is scored on held-out training images
                return ("held-out " if stage.point is not None else "") + f"{key} {flat[key]:.4g}"
    scalars = sorted(stage.work_dir.rglob("vis_data/scalars.json"), key=lambda p: p.stat().st_mtime)
    if scalars and entry["status"] == "running":
        lines = scalars[-1].read_text().strip().splitlines()
        if lines:
            last = json.loads(lines[-1])
            loss = last.get("loss")
            return f"loss {loss:.4g} (iter {last.get('iter', last.get('step', '?'))})" if loss is not None else ""
    return ""


def elapsed(entry: dict[str, Any]) -> str:
    if entry.get("seconds") is not None and entry["status"] in ("done", "cached"):
        return f"{entry['seconds']:.0f}s"
    if entry.get("started_at") and entry["status"] in ("running", "failed"):
        start = datetime.strptime(entry["started_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        end = (
            datetime.strptime(entry["ended_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
            if entry.get("ended_at") and entry["status"] == "failed"
            else time.time()
        )
        return f"{end - start:.0f}s"
    return ""


def show_status(work_dir: str | Path, out: TextIO) -> int:
    """Print the table; exit status 1 when a stage failed or is blocked, else 0."""
    from .slurm import settle

    suite = load_resolved(work_dir)
    planned = build_plan(suite)
    info = settle(suite, planned)
    width = max(len(s.name) for s in planned)
    print(f"{'stage':<{width}}  {'state':<8}  {'job':>8}  {'elapsed':>8}  {'last metric':<26}  log / error", file=out)
    for s in planned:
        e = info[s.name]
        log = s.work_dir / "stage.log"
        detail = e.get("error") if e["status"] in ("failed", "blocked") else (str(log) if log.is_file() else "")
        print(
            f"{s.name:<{width}}  {e['status']:<8}  {e.get('job_id') or '-':>8}  {elapsed(e):>8}  "
            f"{last_metric(s, e):<26}  {detail or ''}",
            file=out,
        )
    counts = {k: sum(1 for e in info.values() if e["status"] == k) for k in {e["status"] for e in info.values()}}
    print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())), file=out)
    return 1 if counts.get("failed") or counts.get("blocked") else 0
