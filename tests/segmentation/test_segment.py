"""End to end on the demo world: `run` trains, lowers the loss, tests with slide windows, writes metrics.json;
`maebench segment --eval-only` re-tests the saved weights; bad input stops before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mae_backbone import architecture_of, create_mae
from mae_backbone.checkpoint import save_backbone
from segmentation.run import run
from tests.conftest import TINY
from tools.cli import main as cli

from .conftest import TINY_OVERRIDES, seg_cfg


@pytest.fixture(scope="module")
def trained(ade_root, tmp_path_factory):
    """30 iterations from an MAE checkpoint (random weights; the load path is what is exercised)."""
    torch.manual_seed(0)
    mae = create_mae("vit_mini_patch16", img_size=64, **TINY)
    ckpt = save_backbone(
        tmp_path_factory.mktemp("ckpt") / "backbone.safetensors",
        mae.encoder_state_dict(),
        dict(architecture=architecture_of(mae)),
    )
    work_dir = tmp_path_factory.mktemp("segment")
    cfg = seg_cfg(ade_root, work_dir, f"model.pretrained='{ckpt}'")
    return cfg, run(cfg)


def test_training_lowers_the_loss_and_evaluation_gives_miou(trained):
    cfg, metrics = trained
    assert metrics["iters"] == cfg["schedule"]["iters"]
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert 0.0 < metrics["mIoU"] <= 100.0 and 0.0 < metrics["aAcc"] <= 100.0
    per_class = metrics["per_class_IoU"]
    assert len(per_class) == 11 and list(per_class)[0] == "circle"
    present = [v for v in per_class.values() if v is not None]
    assert metrics["mIoU"] == pytest.approx(np.mean(present), abs=0.01)


def test_metrics_json_carries_the_protocol(trained):
    cfg, metrics = trained
    record = json.loads((Path(cfg["work_dir"]) / "metrics.json").read_text())
    assert record["task"] == "segment"
    assert record["metrics"]["mIoU"] == metrics["mIoU"]
    proto = record["protocol"]
    assert proto["test"] == {
        "mode": "slide",
        "crop_size": [64, 64],
        "stride": [43, 43],
        "scales": "single-scale",
        "flip": False,
        "resize": [512, 128],
        "keep_ratio": True,
    }
    assert proto["dataset"]["num_classes"] == 11 and proto["dataset"]["reduce_zero_label"] is True
    assert proto["dataset"]["val"]["num_files"] == 2 * 6 and len(proto["dataset"]["val"]["sha256"]) == 16
    assert proto["config"]["model"]["out_indices"] == [0, 1, 2, 3]
    assert proto["pretrained"].endswith("backbone.safetensors")
    # the resolved mmengine config (every mmseg part) sits next to it
    dumped = list(Path(cfg["work_dir"]).glob("*.py"))
    assert dumped and "ViTEncoderDecoder" in dumped[0].read_text()


def test_eval_only_retests_the_saved_weights(trained, capsys):
    cfg, metrics = trained
    rc = cli(
        ["segment", "--data", cfg["data"]["root"], "--work-dir", str(cfg["work_dir"]), "--eval-only", *TINY_OVERRIDES]
    )
    assert rc == 0
    out = capsys.readouterr().out
    again = json.loads(out[out.rindex('{\n  "work_dir"') :])
    assert again["mIoU"] == metrics["mIoU"] and again["aAcc"] == metrics["aAcc"] and again["iters"] is None


def test_bad_annotation_stops_before_writing(ade_root, tmp_path, capsys):
    root = shutil.copytree(ade_root, tmp_path / "ADEChallengeData2016")
    ann = sorted((root / "annotations" / "training").glob("*.png"))[0]
    labels = np.asarray(Image.open(ann)).copy()
    labels[:2, :2] = 40
    Image.fromarray(labels).save(ann)
    work_dir = tmp_path / "work"
    rc = cli(["segment", "--data", str(root), "--work-dir", str(work_dir), *TINY_OVERRIDES])
    err = capsys.readouterr().err
    assert rc == 2 and ann.name in err and "num_classes=11" in err
    assert not work_dir.exists()


def test_accumulation_warns_at_start_naming_the_bn_batch(ade_root, tmp_path):
    """Batch 4 accumulated to a global batch of 8 on one process: the run's log says BN sees 4, not 8."""
    cfg = seg_cfg(
        ade_root,
        tmp_path,
        "optim.global_batch=8",
        "schedule.iters=1",
        "schedule.warmup_iters=0",
        "schedule.checkpoint_interval=1",
    )
    run(cfg)
    (log,) = tmp_path.glob("*/*.log")
    lines = [line for line in log.read_text().splitlines() if "BatchNorm under gradient accumulation" in line]
    assert len(lines) == 1 and "WARNING" in lines[0]
    assert "normalise over 4 images per forward pass (the per-process micro-batch of 4)" in lines[0]
    assert "global batch of 8" in lines[0] and "2 micro-batches are accumulated" in lines[0]
