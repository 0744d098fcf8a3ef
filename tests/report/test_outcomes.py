"""Per-image outcomes as the evaluators save them, recomputed by the report's bootstrap: classification
top-1 / top-5, ADE20K mIoU (mmseg's own areas) and COCO box / mask AP (pycocotools' matching) equal the
evaluator's numbers on the full image set, and a COCO AP interval contains the full-set AP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_backbone.runtime import metric_keys as keys
from tools.report import stats


def test_classification_outcomes_by_index(tmp_path):
    from classification.evaluate import ClassificationMetric

    out = tmp_path / keys.OUTCOMES_FILE
    metric = ClassificationMetric([f"c{i}" for i in range(7)], outcomes_file=out)
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(23, 7, generator=g), torch.randint(0, 7, (23,), generator=g)
    order = torch.randperm(23, generator=g)  # results arrive in any order (shards): stored by index
    for chunk in order.split(5):
        metric.process({}, [{"logits": logits[chunk], "label": labels[chunk], "index": chunk}])
    result = metric.evaluate(23)
    with np.load(out) as z:
        assert z[keys.IMAGES].tolist() == list(range(23))
        assert z[keys.outcome(keys.TOP1, "pred")].tolist() == logits.argmax(1).tolist()
    for key in (keys.TOP1, keys.TOP5):
        assert stats.load_outcomes(tmp_path, key).value() == pytest.approx(result[key])
    # robustness keeps A, R and Sketch in one file, each set under its own key and with its own images
    keys.write_outcomes(tmp_path / "r" / keys.OUTCOMES_FILE, metric.outcome_arrays(keys.robustness_top1("a")))
    o = stats.load_outcomes(tmp_path / "r", keys.robustness_top1("a"))
    assert o.value() == pytest.approx(result[keys.TOP1]) and o.images.tolist() == list(range(23))
    assert stats.load_outcomes(tmp_path / "r", "in_a_top5").value() == pytest.approx(result[keys.TOP5])


def test_segmentation_outcomes_recompute_miou(tmp_path):
    pytest.importorskip("mmseg")
    from segmentation.outcomes import OutcomeIoUMetric

    metric = OutcomeIoUMetric(outcomes_file=str(tmp_path / keys.OUTCOMES_FILE), iou_metrics=["mIoU"])
    metric.dataset_meta = dict(classes=("a", "b", "c", "d"))
    g = torch.Generator().manual_seed(0)
    samples = []
    for i in range(9):
        gt = torch.randint(0, 3, (1, 16, 16), generator=g)  # class d never appears: no IoU, left out
        gt[0, :2] = 255  # ignored pixels
        pred = torch.where(
            torch.rand(1, 16, 16, generator=g) < 0.7, gt.clamp(max=2), torch.randint(0, 4, (1, 16, 16), generator=g)
        )
        samples.append(dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt), img_path=f"img{8 - i}.jpg"))
    metric.process({}, samples)
    result = metric.evaluate(9)
    o = stats.load_outcomes(tmp_path, keys.MIOU)
    assert o.images.tolist() == sorted(f"img{i}.jpg" for i in range(9))
    assert o.value() == pytest.approx(result["mIoU"], abs=0.006)  # mmseg rounds to 2 decimals


def _coco_predictions(ann_file: Path, seed: int = 0) -> list[dict]:
    """mmdet-style data samples: GT boxes jittered, some dropped, random false positives, GT masks shifted."""
    from pycocotools.coco import COCO

    coco, rng = COCO(str(ann_file)), np.random.default_rng(seed)
    cat_ids = [c["id"] for c in coco.dataset["categories"]]
    samples = []
    for img in coco.dataset["images"]:
        h, w = img["height"], img["width"]
        boxes, labels, masks = [], [], []
        for a in coco.imgToAnns[img["id"]]:
            if rng.random() < 0.2:
                continue
            x, y, bw, bh = a["bbox"]
            s = rng.uniform(0.8, 1.2)
            boxes.append([x + rng.normal(0, 2), y + rng.normal(0, 2), x + bw * s, y + bh * s])
            labels.append(cat_ids.index(a["category_id"]))
            masks.append(np.roll(coco.annToMask(a), int(rng.integers(-2, 3)), axis=1))
        for _ in range(5):
            x, y = rng.uniform(0, w / 2), rng.uniform(0, h / 2)
            boxes.append([x, y, x + rng.uniform(4, w / 2), y + rng.uniform(4, h / 2)])
            labels.append(int(rng.integers(len(cat_ids))))
            m = np.zeros((h, w), np.uint8)
            m[int(y) : int(boxes[-1][3]), int(x) : int(boxes[-1][2])] = 1
            masks.append(m)
        samples.append(
            dict(
                img_id=img["id"],
                ori_shape=(h, w),
                pred_instances=dict(
                    bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                    scores=torch.from_numpy(rng.random(len(boxes))).float(),
                    labels=torch.tensor(labels, dtype=torch.long),
                    masks=torch.from_numpy(np.stack(masks)).bool() if masks else torch.zeros(0, h, w, dtype=torch.bool),
                ),
            )
        )
    return samples


@pytest.mark.parametrize("evaluator", ["fast", "reference"])
def test_coco_outcomes_recompute_ap_and_the_interval_contains_it(demo_world, tmp_path, evaluator):
    pytest.importorskip("mmdet")
    from mmdet.datasets import CocoDataset  # noqa: F401  (registers mmdet's datasets)

    from detection.evaluation import MAECocoMetric

    ann_file = Path(demo_world["coco"]) / "annotations" / "instances_val2017.json"
    metric = MAECocoMetric(
        ann_file=str(ann_file),
        evaluator=evaluator,
        max_dets=10,
        outfile_prefix=str(tmp_path / "pred"),
        outcomes_file=str(tmp_path / keys.OUTCOMES_FILE),
    )
    metric.dataset_meta = dict(classes=tuple(c["name"] for c in json.loads(ann_file.read_text())["categories"]))
    metric.process({}, _coco_predictions(ann_file))
    out = metric.compute_metrics(metric.results)
    for key, name in ((keys.BOX_AP, "bbox_AP"), (keys.MASK_AP, "segm_AP")):
        o = stats.load_outcomes(tmp_path, key)
        full = 100 * out[name]
        assert 0 < full < 100 and o.value() == pytest.approx(full, abs=1e-9)
        lo, hi = stats.interval(stats.bootstrap([o], 100, seed=0, column=key, label="mae"))
        assert lo < full < hi
    assert sorted(o.images.tolist()) == o.images.tolist() and len(o.images) == len(metric.img_ids)
