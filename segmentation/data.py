"""ADE20K data: the ADEChallengeData2016 layout, checked before training; per-class IoU for metrics.json.

Label convention (user pain E9): annotation PNGs hold 0 = "other" (ignored) and 1..K = classes. The shift
to 0..K-1 with 0 -> 255 (ignore) happens in exactly one place, mmseg's `LoadAnnotations`, driven by the
dataset's `reduce_zero_label=True` (ADE20KDataset's fixed default). Nothing else here touches labels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from mmseg.datasets import ADE20KDataset
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS, METRICS
from PIL import Image

from mae_backbone.errors import BadInputError
from mae_backbone.runtime.distributed import check_exact_once

SPLITS = {"train": "training", "val": "validation"}
CLASSES_FILE = "maebench_classes.json"  # written by the demo world; the real release has objectInfo150
IGNORE = 255


@DATASETS.register_module()
class ADE20KLayoutDataset(ADE20KDataset):
    """ADE20KDataset (layout, suffixes, reduce_zero_label) with any class list.

    ADE20KDataset remaps `metainfo.classes` to its own 150 names and refuses others; the demo world (and any
    ADE-style dataset of another size) names its own classes, so this subclass has no built-in names and
    takes them from `metainfo=dict(classes=...)` (the ADE-150 names for the real dataset).
    """

    METAINFO: dict = {}


def ade150_meta() -> dict[str, Any]:
    return dict(
        classes=tuple(c.strip() for c in ADE20KDataset.METAINFO["classes"]),
        palette=list(ADE20KDataset.METAINFO["palette"]),
    )


def resolve_classes(root: str | Path, num_classes: int, classes: Sequence[str] | None) -> list[str]:
    """Class names for labels 1..K: the config's, else the dataset's own list, else ADE's 150 names."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root}: no such folder; --data (data.root) must be the ADEChallengeData2016 folder")
    listed = root / CLASSES_FILE
    found: list[str] | None = None
    if listed.is_file():
        try:
            found = list(json.loads(listed.read_text())["classes"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise BadInputError(f"{listed}: not a class list ({err}); restore it or delete it") from None
        if len(found) != num_classes:
            raise BadInputError(
                f"{listed}: the dataset has {len(found)} classes but the config says data.num_classes="
                f"{num_classes}; set data.num_classes={len(found)}"
            )
    if classes is not None:
        if len(classes) != num_classes:
            raise BadInputError(f"config: data.classes has {len(classes)} names but data.num_classes={num_classes}")
        return list(classes)
    if found is not None:
        return found
    if num_classes == len(ADE20KDataset.METAINFO["classes"]):
        return list(ade150_meta()["classes"])
    raise BadInputError(
        f"{root}: no class names for {num_classes} classes; set data.classes=[...] or write {CLASSES_FILE}"
    )


def split_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    img_dir, ann_dir = root / "images" / SPLITS[split], root / "annotations" / SPLITS[split]
    for d in (img_dir, ann_dir):
        if not d.is_dir():
            raise BadInputError(
                f"{d}: missing. data.root must be the ADEChallengeData2016 folder holding "
                "images/{training,validation} and annotations/{training,validation}"
            )
    images = {p.stem: p for p in img_dir.rglob("*.jpg")}
    annotations = {p.stem: p for p in ann_dir.rglob("*.png")}
    if not images:
        raise BadInputError(f"{img_dir}: no .jpg images")
    lonely_img = sorted(set(images) - set(annotations))
    lonely_ann = sorted(set(annotations) - set(images))
    if lonely_img:
        raise BadInputError(
            f"{images[lonely_img[0]]}: no annotation {ann_dir / (lonely_img[0] + '.png')} "
            f"({len(lonely_img)} images lack one); add the PNGs or remove those images"
        )
    if lonely_ann:
        raise BadInputError(
            f"{annotations[lonely_ann[0]]}: no image {img_dir / (lonely_ann[0] + '.jpg')} "
            f"({len(lonely_ann)} annotations lack one); add the images or remove those PNGs"
        )
    return [(images[s], annotations[s]) for s in sorted(images)]


def _check_pair(image: Path, annotation: Path, num_classes: int) -> str | None:
    """One problem with this pair, as a message naming the file, or None."""
    try:
        with Image.open(image) as im:
            img_size = im.size
    except OSError as err:
        return f"{image}: not a readable image ({err}); replace or remove it (and its annotation)"
    try:
        with Image.open(annotation) as ann:
            if ann.mode not in ("L", "P", "I;16", "I"):
                return f"{annotation}: mode {ann.mode}, expected a single-channel label PNG"
            if ann.size != img_size:
                return (
                    f"{annotation}: {ann.size[0]}x{ann.size[1]} but its image {image.name} is "
                    f"{img_size[0]}x{img_size[1]}; the pair does not belong together"
                )
            values = np.unique(np.asarray(ann))
    except OSError as err:
        return f"{annotation}: not a readable PNG ({err}); replace or remove it (and its image)"
    bad = [int(v) for v in values if not (0 <= v <= num_classes or v == IGNORE)]
    if bad:
        return (
            f"{annotation}: label values {bad[:5]} outside 0..{num_classes} (0 = ignore, 1..{num_classes} "
            f"= classes) and {IGNORE}; the config says data.num_classes={num_classes}: fix the class count "
            "or the annotation"
        )
    return None


def validate_split(root: str | Path, split: str, num_classes: int, workers: int = 8) -> int:
    """Check an ADE20K split: every image has its annotation and vice versa, sizes agree, labels fit K.

    Returns the number of pairs. Reads every annotation (decoding PNGs releases the GIL: threads help).
    """
    pairs = split_pairs(Path(root), split)
    with ThreadPoolExecutor(workers) as pool:
        for problem in pool.map(lambda p: _check_pair(*p, num_classes), pairs):
            if problem:
                raise BadInputError(problem)
    return len(pairs)


def split_files(root: str | Path, split: str) -> list[Path]:
    """Images and annotations of a split, for the dataset fingerprint."""
    return [f for pair in split_pairs(Path(root), split) for f in pair]


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's IoUMetric (mIoU, mAcc, aAcc) that also keeps the per-class IoU for metrics.json.

    Exact-once: each result carries its image path, and the gathered results must name `size` distinct
    images (a padded duplicate or a lost shard fails before any number is computed)."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        if len(self.results) - start == len(data_samples):  # one area tuple per image (not format_only)
            for k, sample in zip(range(start, len(self.results)), data_samples):
                self.results[k] = (*self.results[k], sample["img_path"])

    def evaluate(self, size: int) -> dict[str, float]:
        self._size = size
        return super().evaluate(size)

    def compute_metrics(self, results: list) -> dict[str, float]:
        if results and len(results[0]) == 5:
            check_exact_once([r[4] for r in results], getattr(self, "_size", len(results)), what="ADE20K evaluation")
            results = [r[:4] for r in results]
        metrics = super().compute_metrics(results)
        areas = [sum(a) for a in zip(*results)]
        iou = self.total_area_to_metrics(*areas, ["mIoU"], self.nan_to_num, self.beta)["IoU"]
        # A class absent from both ground truth and prediction has no IoU (NaN): stored as None.
        self.per_class = {
            name: (None if np.isnan(v) else round(float(v) * 100, 2))
            for name, v in zip(self.dataset_meta["classes"], np.asarray(iou))
        }
        return metrics
