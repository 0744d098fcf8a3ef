"""Is a finished stage still valid? Its identity is a digest of its resolved config plus its inputs' digests.

The resolved config holds everything that decides the result -- the task config file's values, the defaults it
inherits, the overrides and the flags -- so editing a value in a config file redoes exactly the stages that use
it. Inputs are the checkpoint files a stage reads (the pre-trained backbone, a fine-tuned classifier: content
sha256), the config files a config names (partial's linprobe recipe) and the dataset fingerprint of each data
root (relative paths and sizes, no file read). Keys that only say where or how a run executes (work dir,
launcher, resume) are not part of it; paths inside the suite folder are kept relative to it, so a copied or
moved suite stays cached. `<stage>/suite_stage.json` records the digest and the recipe it was made from, which
is how `--list` says what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from .stages import Stage

STAGE_FILE = "suite_stage.json"  # per stage: status, digest, recipe, job id, times, error
EXECUTION_KEYS = ("work_dir", "launcher", "resume")


@cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def file_digest(path: str | Path) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    st = p.stat()
    return _file_sha256(str(p.resolve()), st.st_size, st.st_mtime_ns)


@cache
def data_digest(root: str) -> str | None:
    from mae_backbone.runtime.records import dataset_fingerprint

    return dataset_fingerprint(root)["sha256"] if Path(root).exists() else None


def _relative(value: Any, root: str) -> Any:
    if isinstance(value, dict):
        return {k: _relative(v, root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_relative(v, root) for v in value]
    if isinstance(value, str) and value.startswith(root):
        return "{suite}" + os.sep + value[len(root) :]
    return value


def recipe(stage: Stage, cfg: dict[str, Any], root: Path) -> dict[str, Any]:
    """What the stage's result depends on: its resolved config (less where/how it runs) and its inputs."""
    inside = str(root.resolve()) + os.sep
    body = {k: v for k, v in cfg.items() if k not in EXECUTION_KEYS}
    body = _relative(_relative(body, inside), str(root) + os.sep)
    files = [v for v in _strings(cfg) if v.endswith(".py") and Path(v).is_file()] + stage.inputs
    inputs = {
        _relative(f, inside) if f.startswith(inside) else _relative(f, str(root) + os.sep): file_digest(f)
        for f in dict.fromkeys(files)
    }
    data = stage.flags.get("data")
    if data:
        inputs[f"data:{_relative(str(data), str(root) + os.sep)}"] = data_digest(str(data))
    return {"config": body, "inputs": inputs}


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def digest(rec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(rec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_stage(stage: Stage) -> dict[str, Any]:
    path = stage.work_dir / STAGE_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, OSError):
        return {}


def changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys whose values differ between two recipes, e.g. ['config.optim.blr: 0.001 -> 0.002']."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {_short(a)} -> {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def stale_reason(stage: Stage, current: dict[str, Any], rerun: set[str]) -> str | None:
    """Why a finished stage's result no longer answers its config (None: it does, or it has not finished).
    `rerun`: the stages (re)run in this invocation, whose dependents are stale even before their outputs exist."""
    if not stage.done_path.is_file():
        return None
    redone = [n for n in stage.needs if n in rerun]
    if redone:
        return f"needs the new {', '.join(redone)}"
    recorded = read_stage(stage)
    if not recorded.get("digest"):
        return "no record of the recipe it ran with"
    if recorded["digest"] != digest(current):
        diff = changes(recorded.get("recipe", {}), current)
        return (
            "changed: " + "; ".join(diff[:3]) + (f" (+{len(diff) - 3} more)" if len(diff) > 3 else "")
            if diff
            else "its recipe changed"
        )
    return None


def stage_action(stage: Stage, current: dict[str, Any], force: bool, rerun: set[str]) -> tuple[str, str | None]:
    """What a run does with a stage: ("cached", None), ("run", None) or ("redo", why). Decided before anything is
    removed, so that every rank of a distributed suite decides alike (and `--list` says it beforehand)."""
    why = "--force" if force and stage.work_dir.exists() else stale_reason(stage, current, rerun)
    if why:
        return "redo", why
    return ("cached" if stage.done_path.is_file() else "run"), None
