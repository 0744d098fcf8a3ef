"""What every run leaves behind: the resolved config and a `metrics.json` that carries its protocol.

`maebench report` reads only these files, so every number is stored with what makes it comparable:
dataset fingerprint, test mode, evaluator and version, seed, world size, package versions.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_json

PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "mmengine",
    "mmcv",
    "mmdet",
    "mmsegmentation",
    "numpy",
    "pycocotools",
    "faster-coco-eval",
    "imagecorruptions",
    "maebench",
)
METRICS_FILE = "metrics.json"
SCHEMA_VERSION = 1


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision() -> str | None:
    here = Path(__file__).resolve().parents[2]
    try:
        return (
            subprocess.run(
                ["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        return None


def dataset_fingerprint(root: str | Path, files: Iterable[str | Path] | None = None) -> dict[str, Any]:
    """Count and hash the relative paths and sizes of a dataset's files (cheap: no file is read)."""
    root = Path(root)
    paths = sorted(Path(f) for f in files) if files is not None else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for p in paths:
        full = p if p.is_absolute() else root / p
        rel = full.relative_to(root) if full.is_relative_to(root) else full
        size = full.stat().st_size if full.exists() else -1
        digest.update(f"{rel.as_posix()}\t{size}\n".encode())
    return {"root": str(root), "num_files": len(paths), "sha256": digest.hexdigest()[:16]}


def write_metrics(
    work_dir: str | Path,
    metrics: dict[str, Any],
    protocol: dict[str, Any],
    task: str,
    seed: int | None = None,
    world_size: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `work_dir/metrics.json` atomically.

    Args:
        metrics: the numbers (e.g. {"top1": 71.2, "top5": 90.1}).
        protocol: how they were measured: dataset (name + fingerprint), split, test mode, evaluator and
            version, input size ... anything that must match for two numbers to be comparable.
        task: e.g. "finetune", "linprobe", "partial", "detect", "segment", "robustness", "pretrain".
    """
    record = {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "metrics": metrics,
        "protocol": protocol,
        "seed": seed,
        "world_size": world_size if world_size is not None else int(os.environ.get("WORLD_SIZE", 1)),
        "versions": package_versions(),
        "git": git_revision(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count()},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }
    return atomic_write_json(Path(work_dir) / METRICS_FILE, record)
