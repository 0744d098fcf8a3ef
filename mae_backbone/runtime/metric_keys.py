"""The names under which runs store their numbers: producers write these keys, `maebench report` reads them.

One place for every metric name a table column or an interval depends on, so a renamed key breaks a test
instead of silently emptying a report column. Dotted names address nested dicts of `metrics.json`
(detection stores `{"bbox": {"AP": ...}, "segm": {...}}`).

Per-image outcomes (`OUTCOMES_FILE`, a NumPy .npz beside `metrics.json`) hold, for a metric key `K`,
arrays named `K/<field>`; the fields say how the number is recomputed on a resampled image set:

- `K/hit` (N,): the metric is 100 x their mean: 0/1 for top-1, top-5 and robustness top-1; for IN-C's mCE,
  each image's error averaged over severities, divided by AlexNet's and averaged over corruptions (the
  mCE is linear in the per-image errors, as every corruption and severity holds the same images).
- `K/intersect`, `K/union` (N, C) pixel counts: the metric is 100 x the mean over classes of
  sum(intersect) / sum(union) (mIoU; a class with no union is left out, as mmseg's nanmean does).
- `K/det_img`, `K/det_cat`, `K/det_tp`, `K/det_fp`, `K/num_gt`: COCO AP (see tools/report/stats.py).
- `images` (N,): what identifies each evaluated image (dataset index, COCO image id or file name), so two
  runs are paired image by image only when they scored the same images in the same order; `K/images`
  instead when one file holds several image sets (robustness: A, R and Sketch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OUTCOMES_FILE = "outcomes.npz"
IMAGES = "images"

# classification (classification/evaluate.py); top-k is `top{min(5, num_classes)}`
TOP1 = "top1"
TOP5 = "top5"
MEAN_CLASS_ACC = "mean_class_acc"
NUM_SAMPLES = "num_samples"

# detection (detection/run.py): percent AP under the IoU type, stat names as detection/evaluation.STAT_NAMES
BOX, MASK = "bbox", "segm"
BOX_AP = f"{BOX}.AP"
MASK_AP = f"{MASK}.AP"

# segmentation (segmentation/run.py), percent as mmseg reports them
MIOU = "mIoU"
MACC = "mAcc"
AACC = "aAcc"
PER_CLASS_IOU = "per_class_IoU"

# robustness (classification/robustness.py): `in_<set>_top1` for set in a / r / sketch; IN-C's mCE
IN_C_MCE = "in_c_mce"
IN_C_CE = "in_c_ce"  # {corruption: AlexNet-normalised corruption error}


def robustness_top1(dataset: str) -> str:
    """`in_a_top1`, `in_r_top1`, `in_sketch_top1`."""
    return f"in_{dataset}_top1"


# pre-training (mae_backbone/pretrain/run.py)
PRETRAIN_EPOCHS = "epochs"


def outcome(key: str, field: str) -> str:
    """The .npz array name of one field of a metric's per-image outcomes."""
    return f"{key}/{field}"


def write_outcomes(path: str | Path, arrays: dict[str, Any]) -> None:
    """Write per-image outcome arrays atomically as a compressed .npz (a file object: numpy would append .npz
    to the temporary name)."""
    import numpy as np

    from ..fileio import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(path, write)
