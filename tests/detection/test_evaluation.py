"""COCO evaluation: GT-as-prediction gives AP = 1 through our serialisation, ids round-trip, the two
evaluators agree, and the stats are read by value whatever the detections-per-image cap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet")


def _val_json(demo_world) -> Path:
    return Path(demo_world["coco"]) / "annotations" / "instances_val2017.json"


def _gt_as_predictions(ann_file: Path) -> list[dict]:
    """mmdet-style data samples whose predictions are the ground truth (contiguous labels, binary masks)."""
    from pycocotools.coco import COCO

    coco = COCO(str(ann_file))
    cat_ids = [c["id"] for c in coco.dataset["categories"]]  # file order = mmdet's label order
    samples = []
    for img in coco.dataset["images"]:
        anns = [a for a in coco.imgToAnns[img["id"]] if not a["iscrowd"]]
        boxes = torch.tensor(
            [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns],
            dtype=torch.float32,
        ).reshape(-1, 4)
        masks = (
            torch.from_numpy(np.stack([coco.annToMask(a) for a in anns])).bool()
            if anns
            else torch.zeros(0, img["height"], img["width"], dtype=torch.bool)
        )
        samples.append(
            dict(
                img_id=img["id"],
                ori_shape=(img["height"], img["width"]),
                pred_instances=dict(
                    bboxes=boxes,
                    scores=torch.linspace(1.0, 0.5, len(anns)),
                    labels=torch.tensor([cat_ids.index(a["category_id"]) for a in anns], dtype=torch.long),
                    masks=masks,
                ),
            )
        )
    return samples


def _metric(ann_file: Path, evaluator: str, tmp_path: Path, max_dets: int = 100):
    from mmdet.datasets import CocoDataset  # noqa: F401

    from detection.evaluation import MAECocoMetric

    metric = MAECocoMetric(
        ann_file=str(ann_file), evaluator=evaluator, max_dets=max_dets, outfile_prefix=str(tmp_path / "pred")
    )
    classes = tuple(c["name"] for c in json.loads(ann_file.read_text())["categories"])
    metric.dataset_meta = dict(classes=classes)
    return metric


@pytest.mark.parametrize("evaluator", ["fast", "reference"])
def test_ground_truth_as_prediction_scores_one(demo_world, tmp_path, evaluator):
    ann_file = _val_json(demo_world)
    metric = _metric(ann_file, evaluator, tmp_path)
    metric.process({}, _gt_as_predictions(ann_file))
    out = metric.compute_metrics(metric.results)
    for iou_type in ("bbox", "segm"):
        for name in ("AP", "AP50", "AP75"):
            assert out[f"{iou_type}_{name}"] == pytest.approx(1.0), (iou_type, name)
    # the result files carry the original, non-contiguous ids and JSON-safe RLE strings
    segm = json.loads((tmp_path / "pred.segm.json").read_text())
    gt = json.loads(ann_file.read_text())
    assert {d["category_id"] for d in segm} == {a["category_id"] for a in gt["annotations"] if not a["iscrowd"]}
    assert {d["category_id"] for d in segm} - set(range(6))  # ids are not the contiguous labels
    assert all(isinstance(d["segmentation"]["counts"], str) for d in segm)


def _jittered(ann_file: Path, seed: int = 0) -> list[dict]:
    """Imperfect detections: GT boxes shifted and rescaled, some dropped, false positives, random scores."""
    gt = json.loads(ann_file.read_text())
    rng = np.random.default_rng(seed)
    dets = []
    for a in gt["annotations"]:
        if rng.random() < 0.2:
            continue
        x, y, w, h = a["bbox"]
        s = rng.uniform(0.8, 1.2)
        dets.append(
            dict(
                image_id=a["image_id"],
                category_id=a["category_id"],
                score=float(rng.random()),
                bbox=[x + rng.normal(0, 2), y + rng.normal(0, 2), w * s, h * s],
            )
        )
    cats = [c["id"] for c in gt["categories"]]
    for img in gt["images"]:
        for _ in range(30):  # more than a cap of 10 per image: the cap matters
            dets.append(
                dict(
                    image_id=img["id"],
                    category_id=int(rng.choice(cats)),
                    score=float(rng.random() * 0.5),
                    bbox=[*rng.uniform(0, 100, 2).tolist(), *rng.uniform(4, 40, 2).tolist()],
                )
            )
    return dets


def test_stats_by_value_match_pycocotools_summarize(demo_world):
    from detection.evaluation import evaluate

    dets = _jittered(_val_json(demo_world))
    for evaluator in ("reference", "fast"):
        stats, ev = evaluate(_val_json(demo_world), dets, "bbox", evaluator, max_dets=100)
        ev.summarize()  # the libraries' own positional summary is right for the default (1, 10, 100)
        assert list(stats.values()) == pytest.approx([float(s) for s in ev.stats[:12]], abs=1e-12)
    capped, ev = evaluate(_val_json(demo_world), dets, "bbox", "reference", max_dets=2)
    assert ev.params.maxDets == [1, 2, 10]
    # a cap of 2 is read as 2 (pycocotools' summarize would say -1); AP may move either way with the cap
    # (dropping low-scored detections also drops false positives), recall can only fall
    assert 0 < capped["AP"] != stats["AP"]
    assert capped["AR1"] <= capped["AR"] < capped["AR10"] == stats["AR10"]


def test_no_detections_scores_zero(demo_world):
    from detection.evaluation import evaluate

    for evaluator in ("reference", "fast"):
        stats, _ = evaluate(_val_json(demo_world), [], "segm", evaluator)
        assert stats["AP"] == 0.0 and stats["AR"] == 0.0


def test_unknown_evaluator_is_a_config_error():
    from detection.evaluation import evaluator_info
    from mae_backbone.errors import ConfigError

    assert evaluator_info("fast")["name"] == "faster-coco-eval"
    with pytest.raises(ConfigError, match="fast, reference"):
        evaluator_info("detectron2")


def test_a_loaded_ground_truth_serves_every_evaluation_alike(demo_world):
    """The metric loads the annotations once and evaluates boxes and masks against them, epoch after epoch."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    from detection.evaluation import evaluate, load_gt

    ann_file = _val_json(demo_world)
    coco, rng = COCO(str(ann_file)), np.random.default_rng(1)
    dets = []
    for d in _jittered(ann_file)[:400]:
        img = coco.imgs[d["image_id"]]
        m = np.zeros((img["height"], img["width"]), np.uint8)
        x, y, w, h = (int(max(v, 0)) for v in d["bbox"])
        m[y : y + max(h, 1), x : x + max(w, 1)] = 1
        if rng.random() < 0.5:  # some masks are the shapes themselves, shifted by a pixel
            same = [a for a in coco.imgToAnns[d["image_id"]] if a["category_id"] == d["category_id"]]
            m = np.roll(coco.annToMask(same[0]), 1, axis=1) if same else m
        rle = mask_utils.encode(np.asfortranarray(m))
        dets.append({**d, "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    for evaluator in ("fast", "reference"):
        fresh = {t: evaluate(ann_file, dets, t, evaluator)[0] for t in ("bbox", "segm")}
        assert 0 < fresh["segm"]["AP"] < 1 and 0 < fresh["bbox"]["AP"] < 1
        gt = load_gt(ann_file, evaluator)
        for _ in range(2):
            for iou_type in ("segm", "bbox"):
                assert evaluate(ann_file, dets, iou_type, evaluator, gt=gt)[0] == fresh[iou_type], iou_type
