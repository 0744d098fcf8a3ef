"""Held-out recipe selection for classification: the view and the score of mae_backbone/runtime/sweep.py.

The held-out part is class-balanced: `holdout` of each class of the training split (the low-shot subset when the
config asks for one), at least one image, never the last one; the points read it through an ImageFolder of
links, `<work_dir>/sweep/holdout/{train,val}/<label>/`, so they read no validation image at all. A point is
scored by its top-1 on the held-out part. Presets: `aug.preset="light"` turns RandAugment, mixup, cutmix and
random erasing off, for runs of a few hundred steps that ImageNet-scale regularisation cripples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.metric_keys import TOP1
from mae_backbone.runtime.sweep import SweepAdapter, seeded_subset

AUG_PRESETS = {"imagenet": {}, "light": dict(auto_augment=None, reprob=0.0, mixup=0.0, cutmix=0.0)}


def apply_aug_preset(cfg: dict[str, Any]) -> None:
    """`aug.preset` sets the augmentation keys it names (imagenet: the config's own values)."""
    aug = cfg.get("aug") or {}
    preset = aug.get("preset", "imagenet")
    if preset not in AUG_PRESETS:
        raise ConfigError(f"aug.preset={preset!r}: choose one of {', '.join(AUG_PRESETS)}")
    aug.update({k: v for k, v in AUG_PRESETS[preset].items() if k in aug})


def holdout_indices(labels: list[int], fraction: float, seed: int) -> list[int]:
    """A class-balanced held-out part: per class round(fraction x n) images (at least 1, never all), seeded."""
    if not 0 < fraction < 1:
        raise ConfigError(f"sweep.holdout={fraction}: give the held-out fraction of the training split, e.g. 0.2")
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    return sorted(idx[j] for y, idx in by_class.items() for j in seeded_subset(len(idx), fraction, seed, salt=y))


def _carve(cfg: dict[str, Any], dest: Path, fraction: float, seed: int) -> tuple[list[str], int]:
    """`dest/{train,val}/<label>/` links to the fitting and held-out images; the held-out names."""
    from .datasets import build_split

    train = build_split(cfg["data"], "train")
    held = set(holdout_indices(train.labels, fraction, seed))
    width = len(str(len(train.classes)))
    for part in ("train", "val"):
        for y in range(len(train.classes)):
            (dest / part / f"{y:0{width}d}").mkdir(parents=True, exist_ok=True)
    names = []
    for i, (path, y) in enumerate(zip(train.files, train.labels)):
        part = "val" if i in held else "train"
        os.symlink(Path(path).resolve(), dest / part / f"{y:0{width}d}" / f"{i:07d}_{Path(path).name}")
        if i in held:
            inside = Path(path).is_relative_to(train.root)
            names.append(str(Path(path).relative_to(train.root)) if inside else str(path))
    return names, len(train.files) - len(held)


def _data(cfg: dict[str, Any], dest: Path) -> dict[str, Any]:
    """The view is an ImageFolder whose val/ is the held-out part of train (the subset is already applied)."""
    return dict(format="imagefolder", root=str(dest), fraction=None, shots=None, subset_file=None)


ADAPTER = SweepAdapter(metric=TOP1, data=_data, carve=_carve, finish=apply_aug_preset)
