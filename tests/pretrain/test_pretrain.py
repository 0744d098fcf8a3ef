"""Pre-training end to end on generated images: the loss falls, resume continues the same run, exports load."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mae_backbone import create_vit
from mae_backbone.checkpoint import load_checkpoint
from mae_backbone.errors import BadInputError, ConfigError
from mae_backbone.pretrain import CONFIG_DIR
from mae_backbone.pretrain.run import run
from mae_backbone.runtime.batch import batch_plan
from mae_backbone.runtime.config import load_config


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Smooth random blobs (learnable structure, unlike white noise), some grayscale and 16-bit."""
    root = tmp_path_factory.mktemp("unlabeled")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    for i in range(48):
        fx, fy, ph = rng.uniform(1, 4, size=3)
        base = np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
        rgb = np.stack([base * c for c in rng.uniform(-1, 1, size=3)], -1)
        arr = ((rgb + 1) * 127.5).clip(0, 255).astype(np.uint8)
        sub = root / f"class_{i % 3}"  # an ImageFolder tree is read recursively, like a flat folder
        sub.mkdir(exist_ok=True)
        if i % 8 == 0:
            Image.fromarray(arr[..., 0].astype(np.uint16) * 256).save(sub / f"{i}.png")  # 16-bit gray
        elif i % 8 == 1:
            Image.fromarray(arr).convert("CMYK").save(sub / f"{i}.jpg")
        else:
            Image.fromarray(arr).save(sub / f"{i}.png")
    return root


def tiny_cfg(root, work_dir, epochs):
    cfg = load_config(
        CONFIG_DIR / "mae_demo.py",
        [
            f"data.root={root}",
            "model.img_size=64",
            "data.batch_size=8",
            "data.num_workers=0",
            f"schedule.epochs={epochs}",
            "schedule.warmup_epochs=1",
            "schedule.checkpoint_interval=1",
            "optim.blr=1.5e-3",
            "optim.precision='fp32'",
            "seed=3",
        ],
    )
    cfg.work_dir, cfg.launcher, cfg.resume = str(work_dir), "none", "auto"
    return cfg.to_dict()


def test_a_few_epochs_lower_the_loss_and_export_a_loadable_backbone(images, tmp_path, monkeypatch):
    first = run(tiny_cfg(images, tmp_path / "short", 1))
    longer = run(tiny_cfg(images, tmp_path / "long", 4))
    assert longer["final_loss"] < first["final_loss"]
    vit = create_vit("vit_mini_patch16", img_size=64, num_classes=4)
    report = load_checkpoint(vit, tmp_path / "long" / "backbone.safetensors")
    assert set(report.new_by_design) == {"head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias"}
    record = json.loads((tmp_path / "long" / "metrics.json").read_text())
    assert record["task"] == "pretrain" and record["protocol"]["dataset"]["num_files"] == 48


def test_resume_continues_the_same_run_bit_for_bit(images, tmp_path, monkeypatch):
    straight = run(tiny_cfg(images, tmp_path / "straight", 3))
    # A run killed after epoch 2: its work dir holds only the epoch-2 checkpoint (and a torn write).
    (tmp_path / "resumed").mkdir()
    shutil.copy(tmp_path / "straight" / "epoch_2.pth", tmp_path / "resumed" / "epoch_2.pth")
    (tmp_path / "resumed" / "epoch_3.pth").write_bytes(b"PK\x03\x04 torn")
    resumed = run(tiny_cfg(images, tmp_path / "resumed", 3))
    assert resumed["iters"] == straight["iters"]
    a = torch.load(tmp_path / "straight" / "epoch_3.pth", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "resumed" / "epoch_3.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["final_loss"] == pytest.approx(straight["final_loss"], rel=1e-6)


def test_bad_inputs_are_refused_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="holds no images"):
        run(tiny_cfg(tmp_path / "empty", tmp_path / "w", 1))
    bad = tmp_path / "bad"
    bad.mkdir()
    Image.new("RGB", (64, 64)).save(bad / "ok.png")
    (bad / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    with pytest.raises(BadInputError, match="truncated.jpg"):
        run(tiny_cfg(bad, tmp_path / "w", 1))
    with pytest.raises(ConfigError, match="not a multiple"):
        batch_plan(batch_size=48, world_size=1, global_batch=4096, blr=1.5e-4)
    assert batch_plan(64, 8, 4096, 1.5e-4) == {"global_batch": 4096, "accum": 8, "lr": 2.4e-3}


def test_a_dataset_release_root_is_read_from_train_only(tmp_path, capsys):
    """An ImageNet-style root (train/ + val/) pre-trains on train/ only, as official main_pretrain.py reads
    <root>/train: the validation images would otherwise leak into pre-training."""
    from mae_backbone.pretrain.data import UnlabeledImages

    for split, n in (("train", 3), ("val", 2), ("test", 1)):
        (tmp_path / split / "n01440764").mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(tmp_path / split / "n01440764" / f"{split}_{i}.png")
    data = UnlabeledImages(tmp_path, img_size=32)
    assert data.root == tmp_path / "train" and [f.name for f in data.files] == [
        "train_0.png",
        "train_1.png",
        "train_2.png",
    ]
    out = capsys.readouterr().out
    assert "pre-training reads" in out and str(tmp_path / "train") in out and "val/ and test/" in out
    shutil.rmtree(tmp_path / "test")
    assert len(UnlabeledImages(tmp_path / "val", img_size=32).files) == 2  # a plain folder: read as it is
    shutil.rmtree(tmp_path / "val")
    assert len(UnlabeledImages(tmp_path, img_size=32).files) == 3  # train/ alone: nothing held out, all read
    assert "pre-training reads" not in capsys.readouterr().out
