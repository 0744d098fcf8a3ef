"""COCO box and mask AP with a choice of evaluator, one detections-per-image setting, and stats read by value.

- `evaluator="fast"` (default): faster-coco-eval's `COCOeval_faster` (C++), several times faster than
  pycocotools on the same detections (benchmarks/coco_eval_speed.py) with identical stats (tested here on
  real detections: tests/detection/test_evaluation.py). `evaluator="reference"`: pycocotools' `COCOeval`.
- `max_dets` is the detections-per-image cap. run.py sets the model's `test_cfg.rcnn.max_per_img` from the
  same value, and the evaluator's `maxDets` = (1, 10, max_dets). pycocotools' `summarize` looks maxDets up
  by position and by the literal 100 (user pain E5: with another cap AP becomes -1, or AP50 silently uses
  the largest cap, as in mmdet's default (100, 300, 1000)); `summarize_by_value` reads them by value.
- Category ids: the model predicts contiguous labels 0..K-1; mmdet's `results2json` maps them through
  `cat_ids` (the annotation file's ids of the configured class names, in file order) back to the original,
  non-contiguous ids, and writes RLE counts as str (E6, E7). The JSON files stay in the work dir, so the
  numbers can be recomputed offline with either evaluator (`evaluate_files`).
- Exact-once: the test loader shards with `ExactShardSampler` (no padded duplicates) and `compute_metrics`
  refuses gathered results unless every image of the annotation file appears once.
- Per-image outcomes: with `outcomes_file`, each evaluation also saves, per IoU type, every scored detection's
  image, category and true/false-positive flags at each IoU threshold, and the ground truths per image and
  category (pycocotools' own matching, area "all", maxDets = max_dets), so `maebench report` can recompute
  AP on a resampled image set (tools/report/stats.py) without the annotation file.
- Mask AP uses the mask area for the small/medium/large split (the `bbox` field is dropped from mask results,
  as mmdet does; otherwise pycocotools would use the box area).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger

from mae_backbone.errors import ConfigError
from mae_backbone.runtime import metric_keys as keys
from mae_backbone.runtime.distributed import check_exact_once

EVALUATORS = {"fast": ("faster-coco-eval", "faster_coco_eval"), "reference": ("pycocotools", "pycocotools")}
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR", "ARs", "ARm", "ARl")


def evaluator_info(evaluator: str) -> dict[str, str]:
    if evaluator not in EVALUATORS:
        raise ConfigError(f"evaluator must be one of {', '.join(EVALUATORS)}, got {evaluator!r}")
    dist, _ = EVALUATORS[evaluator]
    return {"evaluator": evaluator, "name": dist, "version": metadata.version(dist)}


def _api(evaluator: str):
    if evaluator == "fast":
        from faster_coco_eval import COCO, COCOeval_faster

        return COCO, COCOeval_faster
    if evaluator == "reference":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    raise ConfigError(f"evaluator must be one of {', '.join(EVALUATORS)}, got {evaluator!r}")


def summarize_by_value(coco_eval: Any, max_dets: int) -> dict[str, float]:
    """The 12 COCO stats from `coco_eval.eval` after `accumulate()`, maxDets and IoUs looked up by value."""
    p, ev = coco_eval.params, coco_eval.eval
    precision, recall = np.asarray(ev["precision"]), np.asarray(ev["recall"])  # (T,R,K,A,M), (T,K,A,M)
    area = list(p.areaRngLbl)

    def stat(ap: bool, dets: int, iou: float | None = None, rng: str = "all") -> float:
        a, m = area.index(rng), list(p.maxDets).index(dets)
        s = precision[..., a, m] if ap else recall[..., a, m]
        if iou is not None:
            s = s[np.flatnonzero(np.isclose(np.asarray(p.iouThrs), iou))]
        s = s[s > -1]
        return float(s.mean()) if s.size else -1.0

    values = [
        stat(True, max_dets),
        stat(True, max_dets, 0.5),
        stat(True, max_dets, 0.75),
        *(stat(True, max_dets, rng=r) for r in ("small", "medium", "large")),
        stat(False, 1),
        stat(False, 10),
        stat(False, max_dets),
        *(stat(False, max_dets, rng=r) for r in ("small", "medium", "large")),
    ]
    return dict(zip(STAT_NAMES, values))


def load_gt(gt_file: str | Path, evaluator: str = "fast") -> Any:
    """The ground truth as the evaluator's `COCO` object: load it once, evaluate against it many times.

    (Evaluation marks `ignore` and converts polygons to RLE in the annotations in place; both are
    idempotent, so reusing the object gives the same stats as a fresh load: tests/detection.)
    """
    COCO, _ = _api(evaluator)
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(gt_file))


def _iou_workers(COCOeval: Any) -> dict[str, int]:
    # faster-coco-eval computes mask IoUs in a pool of 8 Python threads; on a 2-core machine the pool
    # costs more than it gains (segm evaluation of 8k detections: 0.40 s with 2 or 8 threads, 0.25 s with
    # one). Only machines with spare cores get the pool.
    if "rle_iou_max_workers" not in inspect.signature(COCOeval.__init__).parameters:
        return {}
    return {"rle_iou_max_workers": 1 if (os.cpu_count() or 1) <= 4 else 8}


def _detections(gt: Any, detections: list[dict], iou_type: str, evaluator: str) -> Any:
    """The evaluator's `COCO` object of result-format `detections` (mask results without their box)."""
    COCO, _ = _api(evaluator)
    dets = [dict(d) for d in detections]
    if iou_type == "segm":
        for d in dets:
            d.pop("bbox", None)  # mask area, not box area, decides small/medium/large
    if dets:
        return gt.loadRes(dets)
    dt = COCO()  # nothing detected: every AP is 0 (loadRes cannot take an empty list)
    dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
    dt.createIndex()
    return dt


def evaluate(
    gt_file: str | Path,
    detections: list[dict],
    iou_type: str,
    evaluator: str = "fast",
    max_dets: int = 100,
    cat_ids: Sequence[int] | None = None,
    img_ids: Sequence[int] | None = None,
    gt: Any = None,
) -> tuple[dict[str, float], Any]:
    """COCO stats (fractions) for result-format `detections` against `gt_file` (or a loaded `gt`).

    Returns (stats, COCOeval)."""
    _, COCOeval = _api(evaluator)
    gt = load_gt(gt_file, evaluator) if gt is None else gt
    with contextlib.redirect_stdout(io.StringIO()):  # both libraries print progress lines
        dt = _detections(gt, detections, iou_type, evaluator)
        ev = COCOeval(gt, dt, iou_type, **(_iou_workers(COCOeval) if evaluator == "fast" else {}))
        if cat_ids is not None:
            ev.params.catIds = list(cat_ids)
        if img_ids is not None:
            ev.params.imgIds = list(img_ids)
        ev.params.maxDets = sorted({1, 10, int(max_dets)})
        ev.evaluate()
        ev.accumulate()
    return summarize_by_value(ev, int(max_dets)), ev


def per_image_outcomes(
    gt: Any,
    detections: list[dict],
    iou_type: str,
    max_dets: int,
    cat_ids: Sequence[int],
    img_ids: Sequence[int],
    key: str,
) -> dict[str, np.ndarray]:
    """pycocotools' per-image matching (area "all", `max_dets` per image) as arrays named `key/<field>`:
    `det_img` (image position in `img_ids`), `det_cat` (position in `cat_ids`), `det_score`, `det_tp` /
    `det_fp` (T, D) flags, `num_gt` (images x categories, non-ignored), and `images`: the image ids in the
    order pycocotools scores them (sorted). Detections are grouped by category and, within one, in the
    order pycocotools' accumulate sorts them (score, stable over images).

    `gt` is a pycocotools `COCO` (faster-coco-eval keeps its matching in C++, unreadable from Python)."""
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, _detections(gt, detections, iou_type, "reference"), iou_type)
        p = ev.params
        p.catIds, p.imgIds, p.maxDets = list(cat_ids), list(img_ids), [int(max_dets)]
        p.areaRng, p.areaRngLbl = p.areaRng[:1], p.areaRngLbl[:1]  # "all"
        ev.evaluate()
    n_img, n_thr = len(p.imgIds), len(p.iouThrs)
    num_gt = np.zeros((n_img, len(p.catIds)), dtype=np.int32)
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(len(p.catIds)):
        imgs, scores, tps, fps = [], [], [], []
        for i, e in enumerate(ev.evalImgs[k * n_img : (k + 1) * n_img]):
            if e is None:
                continue
            num_gt[i, k] = int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
            matched, ignored = np.asarray(e["dtMatches"]) > 0, np.asarray(e["dtIgnore"]).astype(bool)
            imgs.append(np.full(len(e["dtScores"]), i))
            scores.append(np.asarray(e["dtScores"], dtype=float))
            tps.append(matched & ~ignored)
            fps.append(~matched & ~ignored)
        if not imgs:
            continue
        score = np.concatenate(scores)
        order = np.argsort(-score, kind="mergesort")  # as pycocotools' accumulate
        parts.append(
            (
                np.concatenate(imgs)[order],
                np.full(len(order), k),
                score[order],
                np.concatenate(tps, axis=1)[:, order],
                np.concatenate(fps, axis=1)[:, order],
            )
        )
    if parts:
        img, cat, score, tp, fp = (np.concatenate(x, axis=-1) for x in zip(*parts))
    else:
        img, cat, score = np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        tp = fp = np.zeros((n_thr, 0), dtype=bool)
    fields = dict(
        det_img=img.astype(np.int32),
        det_cat=cat.astype(np.int32),
        det_score=score.astype(np.float32),
        det_tp=tp,
        det_fp=fp,
        num_gt=num_gt,
    )
    return {keys.IMAGES: np.asarray(p.imgIds, dtype=np.int64), **{keys.outcome(key, f): v for f, v in fields.items()}}


def evaluate_files(
    gt_file: str | Path, result_prefix: str | Path, evaluator: str = "fast", max_dets: int = 100
) -> dict[str, dict[str, float]]:
    """Recompute the stats from `<prefix>.bbox.json` / `<prefix>.segm.json` written by a run (offline)."""
    out = {}
    for iou_type in ("bbox", "segm"):
        path = Path(f"{result_prefix}.{iou_type}.json")
        if path.is_file():
            out[iou_type], _ = evaluate(gt_file, json.loads(path.read_text()), iou_type, evaluator, max_dets)
    return out


@METRICS.register_module()
class MAECocoMetric(CocoMetric):
    """mmdet's `CocoMetric` (its result collection and JSON serialisation) with our evaluation step.

    Args:
        evaluator: "fast" (faster-coco-eval) or "reference" (pycocotools).
        max_dets: detections per image; the same number as the model's `max_per_img`.
        outcomes_file: where each evaluation saves its per-image outcomes (`per_image_outcomes`; None: nowhere).
    """

    def __init__(
        self,
        ann_file: str,
        evaluator: str = "fast",
        max_dets: int = 100,
        outfile_prefix: str | None = None,
        outcomes_file: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(ann_file=ann_file, metric=["bbox", "segm"], outfile_prefix=outfile_prefix, **kwargs)
        self.outcomes_file = outcomes_file
        self.info = evaluator_info(evaluator)
        self.evaluator, self.max_dets, self.ann_file = evaluator, int(max_dets), ann_file
        self.stats: dict[str, dict[str, float]] = {}
        self._warned = False
        self._gt: Any = None
        self._ref_gt: Any = None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            n = len(sample["pred_instances"]["labels"])
            if n > self.max_dets and not self._warned:
                self._warned = True
                MMLogger.get_current_instance().warning(
                    f"the model returned {n} detections for one image but the evaluator scores at most "
                    f"{self.max_dets}; set test.max_per_img once so model and evaluator agree"
                )
        super().process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> dict[str, float]:
        import tempfile

        _, preds = zip(*results)
        if self.cat_ids is None:  # the annotation file's ids of the configured classes, in file order
            self.cat_ids = self._coco_api.get_cat_ids(cat_names=self.dataset_meta["classes"])
        if self.img_ids is None:
            self.img_ids = self._coco_api.get_img_ids()
        # exact-once: every image of the annotation file scored once (a padded or lost shard fails here)
        check_exact_once([p["img_id"] for p in preds], len(self.img_ids), self.img_ids, what="COCO evaluation")
        with tempfile.TemporaryDirectory() as tmp:
            prefix = self.outfile_prefix or str(Path(tmp) / "results")
            files = self.results2json(preds, prefix)
            results_json = {t: json.loads(Path(files[t]).read_text()) for t in self.metrics}
        out: dict[str, float] = OrderedDict()
        logger = MMLogger.get_current_instance()
        if self._gt is None:  # once per run, not once per evaluation and IoU type
            self._gt = load_gt(self.ann_file, self.evaluator)
        for iou_type in self.metrics:
            stats, _ = evaluate(
                self.ann_file,
                results_json[iou_type],
                iou_type,
                self.evaluator,
                self.max_dets,
                self.cat_ids,
                self.img_ids,
                gt=self._gt,
            )
            self.stats[iou_type] = stats
            out.update({f"{iou_type}_{k}": v for k, v in stats.items()})
            logger.info(
                f"{iou_type} ({self.info['name']} {self.info['version']}, maxDets {self.max_dets}): "
                + " ".join(f"{k} {v:.3f}" for k, v in stats.items())
            )
        if self.outcomes_file is not None:
            self._write_outcomes(results_json)
        return out

    def _write_outcomes(self, results_json: dict[str, list[dict]]) -> None:
        if self._ref_gt is None:  # pycocotools' matching is the one readable per image
            self._ref_gt = self._gt if self.evaluator == "reference" else load_gt(self.ann_file, "reference")
        arrays: dict[str, np.ndarray] = {}
        for iou_type, key in ((keys.BOX, keys.BOX_AP), (keys.MASK, keys.MASK_AP)):
            if iou_type in results_json:
                arrays.update(
                    per_image_outcomes(
                        self._ref_gt, results_json[iou_type], iou_type, self.max_dets, self.cat_ids, self.img_ids, key
                    )
                )
        keys.write_outcomes(self.outcomes_file, arrays)
