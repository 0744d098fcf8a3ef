"""Per-image ADE20K outcomes: each image's per-class intersection, union and label pixel counts.

mIoU is a ratio of sums over images (sum of intersections / sum of unions, per class), so it cannot be
averaged per image; `maebench report` resamples images by re-summing these counts (tools/report/stats.py).
The counts are mmseg's own `intersect_and_union` areas, the ones the reported mIoU is computed from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mmseg.registry import METRICS

from mae_backbone.runtime import metric_keys as keys

from .data import PerClassIoUMetric


def per_image_areas(results: list) -> dict[str, np.ndarray]:
    """`(intersect, union, pred, label, img_path)` per image -> arrays named for metric_keys, by file name."""
    rows = sorted(results, key=lambda r: str(r[4]))
    stack = lambda j: np.stack([np.asarray(r[j].cpu() if hasattr(r[j], "cpu") else r[j]) for r in rows])
    return {
        keys.IMAGES: np.array([Path(r[4]).name for r in rows]),
        keys.outcome(keys.MIOU, "intersect"): stack(0).astype(np.int64),
        keys.outcome(keys.MIOU, "union"): stack(1).astype(np.int64),
        keys.outcome(keys.MIOU, "label"): stack(3).astype(np.int64),
    }


@METRICS.register_module()
class OutcomeIoUMetric(PerClassIoUMetric):
    """PerClassIoUMetric that also writes the per-image areas to `outcomes_file` (rank 0, each evaluation)."""

    def __init__(self, outcomes_file: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.outcomes_file = outcomes_file

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)  # checks exact-once first
        if self.outcomes_file is not None and results and len(results[0]) == 5:
            keys.write_outcomes(self.outcomes_file, per_image_areas(results))
        return metrics
