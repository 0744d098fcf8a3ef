"""SIGKILL a real `maebench pretrain` process at random points, resume, and get the uninterrupted result.

Checks: no torn checkpoint is ever picked up, at most one checkpoint interval of work is redone, and on
CPU with a fixed seed the resumed run ends bit-for-bit equal to an uninterrupted one.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mae_backbone.runtime.engine import is_complete_checkpoint, latest_complete_checkpoint

EPOCHS = 4


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(1)
    for i in range(32):
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(root / f"{i}.png")
    return root


def command(images: Path, work_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tools.cli", "pretrain", "--data", str(images), "--work-dir", str(work_dir),
            "--resume", "auto", "model.img_size=32", "data.batch_size=8", "data.num_workers=0",
            f"schedule.epochs={EPOCHS}", "schedule.warmup_epochs=1", "schedule.checkpoint_interval=1",
            "optim.precision='fp32'", "seed=7"]


def run_to_end(images: Path, work_dir: Path) -> None:
    env = {**os.environ, "MAEBENCH_NO_PROGRESS": "1"}
    subprocess.run(command(images, work_dir), check=True, capture_output=True, env=env, timeout=300)


def final_weights(work_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(work_dir / f"epoch_{EPOCHS}.pth", weights_only=True)["state_dict"]


def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(images, tmp_path):
    run_to_end(images, tmp_path / "straight")
    reference = final_weights(tmp_path / "straight")
    rng = random.Random(0)
    work = tmp_path / "killed"
    env = {**os.environ, "MAEBENCH_NO_PROGRESS": "1"}
    kills = 0
    for _ in range(3):  # kill at several random moments: while starting, training, or writing a checkpoint
        before = latest_complete_checkpoint(work) if work.exists() else None
        proc = subprocess.Popen(command(images, work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(4.0, 9.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        for ckpt in work.glob("epoch_*.pth"):  # whatever is visible under a final name is complete
            assert is_complete_checkpoint(ckpt), f"torn checkpoint visible: {ckpt}"
        after = latest_complete_checkpoint(work) if work.exists() else None
        if before is not None:  # progress is never lost: the newest good checkpoint never moves back
            assert after is not None and int(after.stem.split("_")[1]) >= int(before.stem.split("_")[1])
    run_to_end(images, work)
    resumed = final_weights(work)
    assert kills >= 1
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
