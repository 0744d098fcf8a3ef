"""Bootstrap intervals over the evaluation images (and seeds), from the runs' per-image outcomes.

A replicate resamples the N evaluation images with replacement and recomputes the metric on that
multiset: image i drawn c_i times weighs c_i. With several seeds a replicate first resamples the seeds,
then (once, shared by the drawn seeds, since every seed scored the same images) the images, and takes
the mean over the drawn seeds. A gain is bootstrapped *paired*: both backbones' replicates use the
same image draws (the image stream depends only on the report seed, the column and N), the seeds are
drawn independently per backbone, and each replicate's gain is the difference. Intervals are the 2.5 /
97.5 percentiles of the replicates. Pure NumPy; deterministic for a report seed.

The metrics, recomputed from weighted per-image outcomes (metric_keys describes the arrays):
- mean (top-1): 100 sum_i c_i hit_i / N.
- iou (mIoU): 100 x mean over classes with a union of sum_i c_i I_ic / sum_i c_i U_ic.
- coco (AP): pycocotools' accumulate with each detection and ground truth weighted by its image's c_i:
  true and false positives are cumulated in COCO's score order, precision is made monotone and read at
  the 101 recall thresholds, averaged over IoU thresholds and over the categories that have ground
  truth. With all weights 1 this is COCO's AP (tested against the evaluator).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from mae_backbone.runtime.metric_keys import IMAGES, OUTCOMES_FILE, outcome

REC_THRS = np.linspace(0.0, 1.0, 101)  # COCO's recall thresholds
COCO_FIELDS = ("det_img", "det_cat", "det_tp", "det_fp", "num_gt")


@dataclass
class Outcomes:
    """One run's per-image outcomes of one metric."""

    kind: str  # "mean" | "iou" | "coco"
    arrays: dict[str, np.ndarray]
    images: np.ndarray | None = None
    _cats: list[slice] = field(default_factory=list, repr=False)
    _scored: list[np.ndarray | None] = field(default_factory=list, repr=False)  # per category, see _coco_ap

    @property
    def n(self) -> int:
        a = self.arrays
        return len(a["hit"]) if self.kind == "mean" else len(a["intersect"]) if self.kind == "iou" else len(a["num_gt"])

    def value(self, weights: np.ndarray | None = None) -> float:
        """The metric on the image multiset `weights` (counts; None: every image once)."""
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=float)
        return float(self.values(w[None])[0])

    def values(self, counts: np.ndarray) -> np.ndarray:
        """The metric for each row of `counts` (B, N)."""
        a = self.arrays
        if self.kind == "mean":
            return 100.0 * (counts @ a["hit"]) / self.n
        if self.kind == "iou":
            inter, union = counts @ a["intersect"], counts @ a["union"]
            with np.errstate(invalid="ignore", divide="ignore"):
                iou = np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan)
            return 100.0 * np.nanmean(iou, axis=1)
        return np.array([self._coco_ap(c) for c in counts])

    def _coco_ap(self, w: np.ndarray) -> float:
        a = self.arrays
        if not self._cats:  # detections are stored grouped by category, in COCO's score order
            cat = a["det_cat"]
            bounds = np.searchsorted(cat, np.arange(a["num_gt"].shape[1] + 1))
            self._cats = [slice(lo, hi) for lo, hi in pairwise(bounds)]
            # a detection is scored (TP or FP) at every IoU threshold unless it matched an ignored (crowd)
            # ground truth; without such matches one cumulated row gives the FPs of every threshold
            valid = a["det_tp"] | a["det_fp"]
            self._scored = [valid[0, sl] if (valid[:, sl] == valid[0, sl]).all() else None for sl in self._cats]
        num_gt = w @ a["num_gt"]  # (K,) weighted non-ignored ground truths per category
        aps = []
        for k, sl in enumerate(self._cats):
            if num_gt[k] <= 0:
                continue  # no ground truth: COCO leaves the category out (precision -1)
            nd = sl.stop - sl.start
            if nd == 0:
                aps.append(0.0)
                continue
            wd = w[a["det_img"][sl]]
            tp = np.cumsum(a["det_tp"][:, sl] * wd, axis=1)
            scored = self._scored[k]
            fp = np.cumsum(scored * wd)[None] - tp if scored is not None else np.cumsum(a["det_fp"][:, sl] * wd, axis=1)
            rc = tp / num_gt[k]
            pr = tp / (tp + fp + np.spacing(1))
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # COCO's precision envelope
            # precision at each recall threshold, all IoU thresholds in one search: row t is offset by 2t
            # (recall <= 1), so the rows' sorted recalls stay apart in one flat array
            offset = 2.0 * np.arange(len(tp))[:, None]
            inds = np.searchsorted((rc + offset).ravel(), (REC_THRS + offset).ravel(), side="left")
            inds = inds.reshape(len(tp), -1) - nd * np.arange(len(tp))[:, None]  # position within row t
            ok = inds < nd
            q = np.where(ok, np.take_along_axis(pr, np.minimum(inds, nd - 1), axis=1), 0.0)
            aps.append(float(q.mean()))
        return 100.0 * float(np.mean(aps)) if aps else -1.0


def load_outcomes(run_dir: str | Path, key: str) -> Outcomes | None:
    """The outcomes of metric `key` saved beside a run's metrics.json, or None when the run saved none."""
    path = Path(run_dir) / OUTCOMES_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        names = set(z.files)
        own = outcome(key, IMAGES)  # a file holding several image sets (robustness) names each set's images
        images = z[own] if own in names else z[IMAGES] if IMAGES in names else None
        if outcome(key, "hit") in names:
            return Outcomes("mean", {"hit": z[outcome(key, "hit")].astype(float)}, images)
        if outcome(key, "intersect") in names:
            return Outcomes("iou", {f: z[outcome(key, f)].astype(float) for f in ("intersect", "union")}, images)
        if outcome(key, "num_gt") in names:
            arrays = {f: z[outcome(key, f)] for f in COCO_FIELDS}
            arrays["num_gt"] = arrays["num_gt"].astype(float)
            return Outcomes("coco", arrays, images)
    return None


def _stream(*parts: object) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(p).encode()) for p in parts])


def count_chunks(rng: np.random.Generator, n: int, replicates: int) -> Iterator[np.ndarray]:
    """Multinomial image counts (rows of length n summing to n), a few rows at a time (bounded memory)."""
    rows = max(1, min(replicates, 2**21 // max(n, 1)))
    done = 0
    while done < replicates:
        c = min(rows, replicates - done)
        idx = rng.integers(0, n, size=(c, n)) + (np.arange(c) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=c * n).reshape(c, n).astype(float)
        done += c


@dataclass
class Estimate:
    """A cell's number: the mean over seeds of the recorded values, and the bootstrap replicates."""

    value: float
    per_seed: list[float]
    replicates: np.ndarray | None = None  # (B,), None when a run saved no outcomes

    @property
    def std(self) -> float | None:
        return float(np.std(self.per_seed, ddof=1)) if len(self.per_seed) > 1 else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return interval(self.replicates)


def interval(replicates: np.ndarray | None, level: float = 0.95) -> tuple[float, float] | None:
    if replicates is None or not len(replicates):
        return None
    lo, hi = np.percentile(replicates, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def aggregate(runs: Sequence[Outcomes], counts: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Replicates from image counts (B, N) and drawn seeds (S, B): replicate b is the mean, over the seeds
    drawn in column b, of each drawn seed's metric on the image multiset counts[b]."""
    per_seed = np.stack([r.values(counts) for r in runs])  # (S, B)
    return np.take_along_axis(per_seed, drawn, axis=0).mean(axis=0)


def bootstrap(runs: Sequence[Outcomes], replicates: int, seed: int, column: str, label: str) -> np.ndarray:
    """(B,) replicates of the mean over seeds of the metric: seeds resampled (stream per `label`), then
    images (stream per `column` and N, shared by every backbone of the column: a paired draw)."""
    n = runs[0].n
    images, seeds = _stream(seed, "images", column, n), _stream(seed, "seeds", column, label)
    out = []
    for counts in count_chunks(images, n, replicates):
        drawn = (
            seeds.integers(0, len(runs), size=(len(runs), len(counts)))
            if len(runs) > 1
            else np.zeros((1, len(counts)), dtype=int)
        )
        out.append(aggregate(runs, counts, drawn))
    return np.concatenate(out)


def same_images(a: Sequence[Outcomes], b: Sequence[Outcomes]) -> bool:
    """Whether every run of both groups scored the same images in the same order (pairable)."""
    ref = a[0]
    for o in (*a, *b):
        if o.n != ref.n:
            return False
        if (o.images is None) != (ref.images is None):
            return False
        if o.images is not None and not np.array_equal(o.images, ref.images):
            return False
    return True


def gain(a: Estimate, b: Estimate) -> tuple[float, tuple[float, float] | None]:
    """a - b and its paired interval (None without replicates on both sides)."""
    if a.replicates is None or b.replicates is None:
        return a.value - b.value, None
    return a.value - b.value, interval(a.replicates - b.replicates)


def significant(ci: tuple[float, float] | None) -> bool | None:
    """False ("n.s.") when the interval covers 0; None without an interval."""
    return None if ci is None else not (ci[0] <= 0.0 <= ci[1])
