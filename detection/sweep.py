"""Held-out recipe selection for detection: the view and the score of mae_backbone/runtime/sweep.py.

The held-out part is a seeded `holdout` of the training images (at least one, never all), with their
annotations. The view is a COCO folder of its own, `<work_dir>/sweep/holdout/`: `annotations/instances_fit.json`
and `instances_holdout.json`, and `fit/`, `holdout/` linking to the training image folder, so the points train on
`fit`, test on `holdout` and read no validation file at all. A point is scored by its box AP.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mae_backbone.fileio import atomic_write_json
from mae_backbone.runtime.metric_keys import BOX_AP
from mae_backbone.runtime.sweep import SweepAdapter, seeded_subset

from .data import prepare_cfg_split, split_paths

FIT, HELD = "fit", "holdout"


def _carve(cfg: dict[str, Any], dest: Path, fraction: float, seed: int) -> tuple[list[str], int]:
    data = cfg["data"]
    # checked (or cleaned, with skip_bad) as the refit will check it: a bad file fails here, before any point
    train = prepare_cfg_split(data, data["train_split"], cfg["work_dir"])
    coco = json.loads(train.ann_file.read_bytes())
    held = set(seeded_subset(len(coco["images"]), fraction, seed))
    held_ids = {im["id"] for i, im in enumerate(coco["images"]) if i in held}
    for part, is_held in ((FIT, False), (HELD, True)):
        images = [im for i, im in enumerate(coco["images"]) if (i in held) == is_held]
        annotations = [a for a in coco["annotations"] if (a["image_id"] in held_ids) == is_held]
        ann_file, img_dir = split_paths(dest, part)
        atomic_write_json(ann_file, {**coco, "images": images, "annotations": annotations})
        os.symlink(train.img_dir.resolve(), img_dir, target_is_directory=True)
    names = [im["file_name"] for i, im in enumerate(coco["images"]) if i in held]
    return names, len(coco["images"]) - len(held)


def _data(cfg: dict[str, Any], dest: Path) -> dict[str, Any]:
    return dict(root=str(dest), train_split=FIT, val_split=HELD)


ADAPTER = SweepAdapter(metric=BOX_AP, data=_data, carve=_carve)
