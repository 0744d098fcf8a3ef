"""Held-out recipe selection for segmentation: the view and the score of mae_backbone/runtime/sweep.py.

The held-out part is a seeded `holdout` of the training image/annotation pairs (at least one, never all). The
view is an ADEChallengeData2016 folder of its own, `<work_dir>/sweep/holdout/`, of links: `images/training/` and
`annotations/training/` hold the fitting pairs, `images/validation/` and `annotations/validation/` the held-out
ones (and the class list, when the dataset has one), so the points read no validation file at all. A point is
scored by its mIoU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mae_backbone.runtime.metric_keys import MIOU
from mae_backbone.runtime.sweep import SweepAdapter, seeded_subset

from .data import CLASSES_FILE, SPLITS, split_pairs


def _carve(cfg: dict[str, Any], dest: Path, fraction: float, seed: int) -> tuple[list[str], int]:
    root = Path(cfg["data"]["root"])
    pairs = split_pairs(root, "train")
    held = set(seeded_subset(len(pairs), fraction, seed))
    names = []
    for i, pair in enumerate(pairs):
        split = SPLITS["val" if i in held else "train"]
        for kind, path in zip(("images", "annotations"), pair):
            link = dest / kind / split / path.relative_to(root / kind / SPLITS["train"])
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), link)
        if i in held:
            names.append(str(pair[0].relative_to(root)))
    if (root / CLASSES_FILE).is_file():
        os.symlink((root / CLASSES_FILE).resolve(), dest / CLASSES_FILE)
    return names, len(pairs) - len(held)


def _data(cfg: dict[str, Any], dest: Path) -> dict[str, Any]:
    return dict(root=str(dest))


ADAPTER = SweepAdapter(metric=MIOU, data=_data, carve=_carve)
