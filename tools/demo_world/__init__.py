"""The embedded demo world: synthetic shapes on textures, written in the real datasets' release formats.

`generate(out_dir, seed, size)` writes everything; `generate_cached` returns at once when a world with
the same parameters is already complete in that folder (a stamp file, written last and atomically).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mae_backbone.fileio import atomic_write_json

from .formats import (WNIDS, ade_classes, write_ade, write_coco, write_imagenet, write_inat, write_pretrain,
                      write_places)
from .robustness import A_CLASSES, CORRUPTIONS, R_CLASSES, write_robustness
from .scenes import SHAPES, TEXTURES

SIZES: dict[str, dict[str, Any]] = {
    # unit tests: seconds
    "tiny": dict(pretrain=48, cls=dict(train=6, val=3), coco=dict(train=12, val=6),
                 ade=dict(training=12, validation=6), inat=dict(train=4, val=2), places=dict(train=4, val=2),
                 robust=2, c=1, c_classes=2),
    # the demo suite: a few hundred images per format
    "small": dict(pretrain=600, cls=dict(train=80, val=25), coco=dict(train=160, val=40),
                  ade=dict(training=160, validation=40), inat=dict(train=40, val=15),
                  places=dict(train=50, val=15), robust=10, c=3, c_classes=None),
}
STAMP = ".maebench_demo_world.json"
VERSION = 1


def summary(root: Path, size: str, seed: int, image_size: int) -> dict[str, Any]:
    return {
        "root": str(root), "size": size, "seed": seed, "image_size": image_size, "version": VERSION,
        "pretrain": str(root / "pretrain"), "imagenet": str(root / "imagenet"), "coco": str(root / "coco"),
        "ade": str(root / "ade" / "ADEChallengeData2016"), "inat": str(root / "inat"),
        "places": str(root / "places"), "robustness": str(root / "robustness"),
        "classes": list(SHAPES), "wnids": list(WNIDS), "scenes": list(TEXTURES), "ade_classes": ade_classes(),
        "a_classes": list(A_CLASSES), "r_classes": list(R_CLASSES), "corruptions": list(CORRUPTIONS),
    }


def generate(out_dir: str | Path, seed: int = 0, size: str = "small", image_size: int = 128,
             difficulty: float = 0.5, progress: bool = False) -> dict[str, Any]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    root, spec = Path(out_dir), SIZES[size]
    (root / STAMP).unlink(missing_ok=True)
    steps = [
        ("pretrain", lambda: write_pretrain(root / "pretrain", spec["pretrain"], seed, image_size)),
        ("imagenet", lambda: write_imagenet(root / "imagenet", spec["cls"], seed, image_size, difficulty)),
        ("coco", lambda: write_coco(root / "coco", spec["coco"], seed, image_size, difficulty)),
        ("ade", lambda: write_ade(root / "ade", spec["ade"], seed, image_size, difficulty)),
        ("inat", lambda: write_inat(root / "inat", spec["inat"], seed, image_size, difficulty)),
        ("places", lambda: write_places(root / "places", spec["places"], seed, image_size, difficulty)),
        ("robustness", lambda: write_robustness(root / "robustness", spec["robust"], spec["c"], seed, image_size,
                                                         spec["c_classes"])),
    ]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(steps), desc="demo world", unit="format")
    started = time.perf_counter()
    for name, step in steps:
        if bar is not None:
            bar.set_postfix_str(name)
        step()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    from .readme import write_readme

    write_readme(root, size, seed, image_size, spec)
    info = summary(root, size, seed, image_size)
    info["seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_json(root / STAMP, {k: info[k] for k in ("size", "seed", "image_size", "version")})
    return info


def generate_cached(out_dir: str | Path, size: str = "tiny", seed: int = 0, image_size: int = 128) -> dict[str, Any]:
    """Generate unless a complete world with these parameters is already there."""
    root = Path(out_dir)
    stamp = root / STAMP
    if stamp.is_file():
        try:
            done = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            done = {}
        if done == {"size": size, "seed": seed, "image_size": image_size, "version": VERSION}:
            return summary(root, size, seed, image_size)
    return generate(root, seed, size, image_size)
