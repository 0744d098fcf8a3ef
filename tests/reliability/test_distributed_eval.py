"""Exact-once distributed evaluation for detection and segmentation: `--eval-only` of the same trained weights
with 1 process and with 2 processes (gloo, CPU, `--launcher pytorch` environment) on an odd number of images
(5: mmengine's DefaultSampler would pad the second shard with a repeat) gives identical metrics, and the same
detections; the SyncBN choice is logged; a duplicated image is refused before any number is computed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from tests.detection.conftest import _quiet_single_thread  # noqa: F401  (autouse: one thread, no progress bars)
from tests.distributed import run_launched

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

N_IMAGES = 5  # odd: 2 processes hold 3 + 2 images
MAX_DETS = 10


def _cli_worker(rank: int, world: int, argv: list[str], cwd: str) -> None:
    os.chdir(cwd)  # mmengine's collect_results writes the ranks' part files under ./.dist_test
    from tools.cli import main

    assert main(argv) == 0, f"rank {rank}: maebench {argv[0]} failed"


def _eval_one_and_two(argv: list[str], work: Path) -> tuple[dict, dict]:
    """`maebench <argv> --eval-only` in this process, then under 2 launched processes; both metrics.json."""
    from tools.cli import main

    one, two = work / "eval_1proc", work / "eval_2proc"
    assert main([*argv, "--work-dir", str(one)]) == 0
    run_launched(_cli_worker, 2, [*argv, "--work-dir", str(two), "--launcher", "pytorch"], str(work))
    return (json.loads((one / "metrics.json").read_text()), json.loads((two / "metrics.json").read_text()))


def _log_text(work_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(work_dir.rglob("*.log")))


# ---------------------------------------------------------------- detection: box and mask AP, and the detections


@pytest.fixture(scope="module")
def coco_odd(demo_world, tmp_path_factory) -> Path:
    """The demo COCO folder with the first N_IMAGES validation images (and their annotations) only."""
    root = shutil.copytree(demo_world["coco"], tmp_path_factory.mktemp("coco_odd") / "coco")
    ann = root / "annotations" / "instances_val2017.json"
    data = json.loads(ann.read_text())
    data["images"] = data["images"][:N_IMAGES]
    keep = {im["id"] for im in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    ann.write_text(json.dumps(data))
    files = {im["file_name"] for im in data["images"]}
    for f in (root / "val2017").iterdir():
        if f.name not in files:
            f.unlink()
    assert len(keep) == N_IMAGES and data["annotations"]
    return root


def test_detection_one_and_two_processes_give_identical_metrics(coco_odd, tmp_path):
    from detection.run import run
    from mae_backbone.runtime.workdir import latest_complete_checkpoint
    from tests.detection.conftest import TINY_OVERRIDES, tiny_cfg

    overrides = [
        "schedule.iters=2",
        "schedule.checkpoint_interval=2",
        "test.score_thr=0.0",
        f"test.max_per_img={MAX_DETS}",
    ]
    run(tiny_cfg(coco_odd, tmp_path / "train", *overrides))  # 2 real steps: weights that detect something
    ckpt = latest_complete_checkpoint(tmp_path / "train")
    one, two = _eval_one_and_two(
        ["detect", "--data", str(coco_odd), "--eval-only", "--resume", str(ckpt), *TINY_OVERRIDES, *overrides], tmp_path
    )
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert set(one["metrics"]["bbox"]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    assert two["metrics"] == one["metrics"]  # box and mask AP: all 12 stats each
    for iou_type in ("bbox", "segm"):  # every detection, once: a repeated or lost image would show here
        dets = [
            json.loads((tmp_path / run_dir / "predictions" / f"coco.{iou_type}.json").read_text())
            for run_dir in ("eval_1proc", "eval_2proc")
        ]
        assert dets[1] == dets[0]
        assert len({d["image_id"] for d in dets[0]}) == N_IMAGES
    assert "SyncBN off: single process" in _log_text(tmp_path / "eval_1proc")
    notice = "SyncBN on" if torch.cuda.is_available() else "SyncBN needs CUDA; using plain BN under gloo"
    assert notice in _log_text(tmp_path / "eval_2proc")


# --------------------------------------------------------------------------- segmentation: mIoU, per-class IoU


@pytest.fixture(scope="module")
def ade_odd(demo_world, tmp_path_factory) -> Path:
    """The demo ADE20K folder with the first N_IMAGES validation images and annotations only."""
    root = shutil.copytree(demo_world["ade"], tmp_path_factory.mktemp("ade_odd") / "ADEChallengeData2016")
    images = sorted((root / "images" / "validation").glob("*.jpg"))
    for img in images[N_IMAGES:]:
        img.unlink()
        (root / "annotations" / "validation" / f"{img.stem}.png").unlink()
    assert len(list((root / "annotations" / "validation").glob("*.png"))) == N_IMAGES
    return root


def test_segmentation_one_and_two_processes_give_identical_metrics(ade_odd, tmp_path):
    from mae_backbone.runtime.workdir import latest_complete_checkpoint
    from segmentation.run import run
    from tests.segmentation.conftest import TINY_OVERRIDES, seg_cfg

    overrides = ["schedule.iters=2", "schedule.checkpoint_interval=2"]
    run(seg_cfg(ade_odd, tmp_path / "train", *overrides))
    ckpt = latest_complete_checkpoint(tmp_path / "train")
    one, two = _eval_one_and_two(
        ["segment", "--data", str(ade_odd), "--eval-only", "--resume", str(ckpt), *TINY_OVERRIDES, *overrides], tmp_path
    )
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one["metrics"]["per_class_IoU"] and 0 < one["metrics"]["aAcc"] <= 100
    assert two["metrics"] == one["metrics"]  # mIoU, mAcc, aAcc and every class's IoU
    assert "SyncBN off: single process" in _log_text(tmp_path / "eval_1proc")
    notice = "SyncBN on" if torch.cuda.is_available() else "SyncBN needs CUDA; using plain BN under gloo"
    assert notice in _log_text(tmp_path / "eval_2proc")


# ------------------------------------------------------------------------------ the guard and the shared sampler


def test_the_configs_sampler_shards_without_padding():
    from mmdet.registry import DATA_SAMPLERS as DET_SAMPLERS
    from mmseg.registry import DATA_SAMPLERS as SEG_SAMPLERS

    import mae_backbone.runtime.distributed  # noqa: F401  (registers ExactShardSampler, as run.py does)

    for registry in (DET_SAMPLERS, SEG_SAMPLERS):  # the runner builds it by name, with a seed
        shards = [
            list(
                registry.build(
                    dict(type="ExactShardSampler", rank=r, world_size=2),
                    default_args=dict(dataset=range(N_IMAGES), seed=0),
                )
            )
            for r in range(2)
        ]
        assert shards == [[0, 2, 4], [1, 3]]  # DefaultSampler: [0, 2, 4], [1, 3, 0]


def test_a_duplicated_image_is_refused_by_both_metrics(coco_odd, tmp_path):
    from mmdet.datasets import CocoDataset  # noqa: F401

    from detection.evaluation import MAECocoMetric
    from segmentation.data import PerClassIoUMetric

    ann = coco_odd / "annotations" / "instances_val2017.json"
    data = json.loads(ann.read_text())
    coco = MAECocoMetric(ann_file=str(ann), outfile_prefix=str(tmp_path / "pred"))
    coco.dataset_meta = dict(classes=tuple(c["name"] for c in data["categories"]))
    empty = dict(
        bboxes=torch.zeros(0, 4),
        scores=torch.zeros(0),
        labels=torch.zeros(0, dtype=torch.long),
        masks=torch.zeros(0, 8, 8, dtype=torch.bool),
    )
    samples = [
        dict(img_id=im["id"], ori_shape=(im["height"], im["width"]), pred_instances=empty) for im in data["images"]
    ]
    coco.process({}, samples + samples[:1])  # what a padded shard adds when nothing cuts it off
    with pytest.raises(RuntimeError, match="1 duplicates"):
        coco.evaluate(N_IMAGES + 1)

    seg = PerClassIoUMetric(iou_metrics=["mIoU"])
    seg.dataset_meta = dict(classes=("a", "b"))
    label = torch.tensor([[[0, 1], [1, 0]]])
    sample = lambda path: dict(img_path=path, pred_sem_seg=dict(data=label), gt_sem_seg=dict(data=label))  # noqa: E731
    seg.process({}, [sample("x.jpg"), sample("y.jpg"), sample("x.jpg")])
    with pytest.raises(RuntimeError, match="covered 2 of 3 samples with 1 duplicates"):
        seg.evaluate(3)
