"""`--launcher pytorch` and `--launcher slurm` on CPUs (gloo), for the training commands: 2 forked processes with
torchrun's (or a Slurm step's) variables run real steps of `maebench pretrain` and `maebench finetune` on the demo
world. The recipe's global batch is reached from the real world size (2 processes x 8 = 16: no accumulation),
each run writes its outputs once with world_size 2, and the fine-tuned classifier scores the same under a
1-process `--eval-only` and a 2-task Slurm `--eval-only` as it did at the end of its 2-process training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.detection.conftest import _quiet_single_thread  # noqa: F401  (autouse: one thread, no progress bars)
from tests.distributed import run_launched, slurm_env
from tests.reliability.test_bad_inputs import CLASSIFY_TINY, PRETRAIN_TINY

GLOBAL_BATCH = 16  # = data.batch_size 8 x 2 processes: one optimizer step per batch (1 process: 2 accumulated)


def _cli_worker(rank: int, world: int, argv: list[str]) -> None:
    from tools.cli import main

    assert main(argv) == 0, f"rank {rank}: maebench {argv[0]} failed"


def _record(work_dir: Path) -> dict:
    return json.loads((work_dir / "metrics.json").read_text())


def _log_text(work_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(work_dir.rglob("*.log")))


def _checkpoint_iter(work_dir: Path) -> int:
    from mae_backbone.runtime.engine import allow_mmengine_checkpoints
    from mae_backbone.runtime.workdir import latest_complete_checkpoint

    allow_mmengine_checkpoints()
    return torch.load(latest_complete_checkpoint(work_dir), weights_only=True)["meta"]["iter"]


def test_pretrain_under_torchrun_on_cpus(demo_world, tmp_path):
    from mae_backbone import create_vit
    from mae_backbone.checkpoint import load_checkpoint

    work = tmp_path / "pretrain"
    run_launched(
        _cli_worker,
        2,
        [
            "pretrain",
            "--data",
            demo_world["pretrain"],
            "--work-dir",
            str(work),
            "--launcher",
            "pytorch",
            *PRETRAIN_TINY,
            f"optim.global_batch={GLOBAL_BATCH}",
        ],
    )
    record = _record(work)
    assert record["world_size"] == 2 and record["task"] == "pretrain"
    assert record["protocol"]["global_batch"] == GLOBAL_BATCH
    # each process took its half of the images: 48 // (8 x 2) = 3 steps per epoch (one process: 6)
    assert record["metrics"]["iters"] == demo_world["counts"]["pretrain"] // GLOBAL_BATCH == _checkpoint_iter(work)
    assert math.isfinite(record["metrics"]["final_loss"])
    assert f"effective batch {GLOBAL_BATCH} = 8 x 2 processes x 1 accumulation" in _log_text(work)
    report = load_checkpoint(create_vit("vit_mini_patch16", img_size=32, num_classes=4), work / "backbone.safetensors")
    assert report.loaded and (work / "mae_full.safetensors").is_file()


@pytest.fixture(scope="module")
def finetuned(demo_world, tmp_path_factory) -> Path:
    """`maebench finetune` (1 epoch, from scratch) in 2 processes under torchrun's variables."""
    work = tmp_path_factory.mktemp("launch_cpu") / "finetune"
    run_launched(
        _cli_worker,
        2,
        [
            "finetune",
            "--data",
            demo_world["imagenet"],
            "--work-dir",
            str(work),
            "--launcher",
            "pytorch",
            *CLASSIFY_TINY,
            f"optim.global_batch={GLOBAL_BATCH}",
        ],
    )
    return work


def _eval_only(demo_world, classifier: Path, work: Path, *launch: str) -> list[str]:
    return [
        "finetune",
        "--data",
        demo_world["imagenet"],
        "--pretrained",
        str(classifier),
        "--eval-only",
        "--work-dir",
        str(work),
        *launch,
        *CLASSIFY_TINY,
    ]


def test_finetune_under_torchrun_on_cpus_scores_as_one_process_eval_only(finetuned, demo_world, tmp_path):
    from tools.cli import main

    record = _record(finetuned)
    assert record["world_size"] == 2 and record["task"] == "finetune"
    assert (record["protocol"]["effective_batch"], record["protocol"]["accum_iter"]) == (GLOBAL_BATCH, 1)
    assert _checkpoint_iter(finetuned) == demo_world["counts"]["imagenet"]["train"] // GLOBAL_BATCH
    assert record["metrics"]["num_samples"] == demo_world["counts"]["imagenet"]["val"]  # exact-once over 2 shards
    assert main(_eval_only(demo_world, finetuned / "classifier.safetensors", tmp_path / "eval_1proc")) == 0
    single = _record(tmp_path / "eval_1proc")
    assert single["world_size"] == 1
    scored = lambda m: {k: v for k, v in m.items() if k not in ("top1_best", "best_epoch")}  # noqa: E731 (training only)
    assert single["metrics"] == scored(record["metrics"])  # top-1, top-5, mean class accuracy, count


def test_slurm_tasks_on_cpus_evaluate_as_the_torchrun_training_did(finetuned, demo_world, tmp_path):
    work = tmp_path / "eval_slurm"
    run_launched(
        _cli_worker,
        2,
        _eval_only(demo_world, finetuned / "classifier.safetensors", work, "--launcher", "slurm"),
        env=slurm_env,
    )
    record = _record(work)
    assert record["world_size"] == 2
    trained = {k: v for k, v in _record(finetuned)["metrics"].items() if k not in ("top1_best", "best_epoch")}
    assert record["metrics"] == trained


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA, mmengine's own slurm launcher starts the group")
def test_a_slurm_launch_without_its_variables_says_what_to_set(tmp_path, monkeypatch):
    from mae_backbone.errors import UserFacingError
    from mae_backbone.runtime.distributed import init_cpu_launch

    for key in ("SLURM_PROCID", "SLURM_NTASKS", "MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(UserFacingError, match="SLURM_PROCID, SLURM_NTASKS not set"):
        init_cpu_launch("slurm")
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_NODELIST", "node[01-02]")
    monkeypatch.setenv("PATH", str(tmp_path))  # no scontrol here: the first node cannot be looked up
    with pytest.raises(UserFacingError, match="export MASTER_ADDR"):
        init_cpu_launch("slurm")
