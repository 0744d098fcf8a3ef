"""The work dir's checkpoints and space: which checkpoint is complete, which one a run resumes from or evaluates,
and whether the folder can hold the next one. A checkpoint is complete when its zip archive checks out: an
interrupted write leaves a temp file (`AtomicRunner`), and a file torn by other means fails the check.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

from ..errors import UserFacingError


def _checkpoint_step(path: Path) -> int:
    m = re.match(r"(epoch|iter)_(\d+)\.pth$", path.name)
    return int(m.group(2)) if m else -1


def is_complete_checkpoint(path: str | Path) -> bool:
    """A torch checkpoint is a zip archive; a torn write fails the central-directory / CRC check."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def latest_complete_checkpoint(work_dir: str | Path) -> Path | None:
    candidates = sorted(Path(work_dir).glob("*_*.pth"), key=_checkpoint_step, reverse=True)
    return next((p for p in candidates if _checkpoint_step(p) >= 0 and is_complete_checkpoint(p)), None)


def check_work_dir(work_dir: str | Path, need_bytes: int) -> None:
    """Fail before training if the work dir is not writable or cannot hold a few checkpoints."""
    work_dir = Path(work_dir)
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        probe = work_dir / f".write_probe.{os.getpid()}"  # one per process: ranks share the work dir
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise UserFacingError(
            f"{work_dir}: work dir is not writable ({err.strerror}); pick another --work-dir"
        ) from None
    free = shutil.disk_usage(work_dir).free
    if free < need_bytes:
        raise UserFacingError(
            f"{work_dir}: only {free / 2**20:.0f} MiB free, a checkpoint needs about {need_bytes / 2**20:.0f} MiB "
            "(x2 while it is written); free space or pick another --work-dir"
        )


def resolve_resume(resume: str | None, work_dir: str | Path) -> str | None:
    """`--resume auto` -> newest complete checkpoint in the work dir (or None); a path must exist."""
    if not resume or resume == "none":
        return None
    if resume == "auto":
        found = latest_complete_checkpoint(work_dir)
        return str(found) if found else None
    if not Path(resume).is_file():
        raise UserFacingError(
            f"{resume}: no such checkpoint file; check the path, or use --resume auto (the newest "
            "complete one in the work dir)"
        )
    if not is_complete_checkpoint(resume):
        raise UserFacingError(f"{resume}: not a complete checkpoint; use --resume auto to pick the latest good one")
    return resume


def weights_source(cfg: dict[str, Any], work_dir: str | Path) -> dict[str, Any]:
    """`load_from` and `resume` for the Runner: `--eval-only` scores the trained checkpoint it was given (or the
    newest in the work dir); training resumes from the newest complete checkpoint there, if any."""
    if cfg.get("eval_only"):
        if not cfg.get("load_from"):
            raise UserFacingError(f"{work_dir}: no trained checkpoint to evaluate; pass --resume PATH or train first")
        return dict(load_from=cfg["load_from"], resume=False)
    resume_from = resolve_resume(cfg.get("resume"), work_dir)
    return dict(load_from=resume_from, resume=resume_from is not None)
