"""End to end on the demo world: a few Mask R-CNN steps lower the loss, the test writes every AP field and its
protocol to metrics.json, one detections-per-image setting reaches model and evaluator, and evaluating the same
weights again with the reference evaluator (pycocotools) reproduces the fast evaluator's stats exactly."""

from __future__ import annotations

import collections
import json

import pytest

from tests.detection.conftest import tiny_cfg

pytest.importorskip("mmdet")
MAX_DETS = 7


@pytest.fixture(scope="module")
def trained(demo_world, tmp_path_factory):
    from detection.run import run

    work = tmp_path_factory.mktemp("detect")
    metrics = run(tiny_cfg(demo_world["coco"], work, f"test.max_per_img={MAX_DETS}", "test.score_thr=0.0"))
    return work, metrics


def test_training_lowers_the_loss(trained):
    _, metrics = trained
    assert metrics["iters"] == 4
    assert metrics["train_loss_last"] < metrics["train_loss_first"]


def test_metrics_json_has_every_field_and_the_protocol(trained, demo_world):
    work, metrics = trained
    record = json.loads((work / "metrics.json").read_text())
    assert record["task"] == "detect"
    for iou_type in ("bbox", "segm"):
        assert set(record["metrics"][iou_type]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
        assert all(isinstance(v, float) and (v == -1 or 0 <= v <= 100) for v in record["metrics"][iou_type].values())
    proto = record["protocol"]
    assert proto["evaluator"]["name"] == "faster-coco-eval" and proto["evaluator"]["version"]
    assert proto["max_dets"] == MAX_DETS and proto["protocol"] == "benchmarking"
    assert proto["dataset"]["val2017"]["num_files"] == 1 + demo_world["counts"]["coco"]["val"]
    assert len(proto["dataset"]["val2017"]["sha256"]) == 16
    assert proto["dataset"]["category_ids"] == sorted(demo_world["coco_categories"], key=int)
    assert proto["config"]["data"]["image_size"] == 64
    assert sum(abs(v) for v in metrics["bbox"].values()) > 0  # real detections, not an empty result


def test_one_detections_per_image_setting(trained):
    work, _ = trained
    dets = json.loads((work / "predictions" / "coco.bbox.json").read_text())
    per_image = collections.Counter(d["image_id"] for d in dets)
    assert per_image and max(per_image.values()) <= MAX_DETS
    resolved = next(work.glob("*.py")).read_text()  # the full mmengine config the runner wrote
    resolved = resolved.replace(" ", "")
    assert f"max_per_img={MAX_DETS}" in resolved and f"max_dets={MAX_DETS}" in resolved


def test_reference_evaluator_reproduces_fast_on_the_same_weights(trained, demo_world):
    from detection.run import run
    from mae_backbone.runtime.workdir import latest_complete_checkpoint

    work, fast = trained
    cfg = tiny_cfg(
        demo_world["coco"],
        work / "eval_ref",
        f"test.max_per_img={MAX_DETS}",
        "test.score_thr=0.0",
        "test.evaluator='reference'",
    )
    cfg.update(eval_only=True, load_from=str(latest_complete_checkpoint(work)))
    reference = run(cfg)
    for iou_type in ("bbox", "segm"):
        assert reference[iou_type] == fast[iou_type]  # all 12 stats, to the last digit kept
    record = json.loads((work / "eval_ref" / "metrics.json").read_text())
    assert record["protocol"]["evaluator"]["name"] == "pycocotools" and record["metrics"]["iters"] is None
