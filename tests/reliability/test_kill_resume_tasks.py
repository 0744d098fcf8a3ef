"""SIGKILL a real `maebench finetune | segment | detect` process while it writes a checkpoint, resume it, and get
the uninterrupted run's result.

Each command runs a few steps on the tiny demo world three ways: uninterrupted (in-process, `tools.cli.main`),
as a `python -m tools.cli` process killed once its first checkpoint is complete and the next one is being
written (frozen with SIGSTOP while the `.<name>.tmp` exists, then SIGKILLed: a torn temp file is left), and
resumed with `--resume auto` (in-process). Checks: nothing torn is visible under a checkpoint name, resume
starts from the newest complete checkpoint (its log says so) so at most one checkpoint interval is redone, and
the final `metrics.json` numbers and weights equal the uninterrupted run's bit for bit: on one CPU thread with a
fixed seed every op here is deterministic, detection's RoI sampling included (it draws from the restored
torch RNG), so no tolerance is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from mae_backbone.runtime.workdir import is_complete_checkpoint, latest_complete_checkpoint
from tests.detection.conftest import TINY_OVERRIDES as DETECT_TINY
from tests.detection.conftest import _quiet_single_thread  # noqa: F401  (autouse: one thread, no progress bars)
from tests.reliability.test_bad_inputs import CLASSIFY_TINY
from tests.reliability.test_kill_resume import assert_no_torn_checkpoint_visible, cli, sigkill_when
from tests.segmentation.conftest import TINY_OVERRIDES as SEGMENT_TINY
from tools.cli import main

# command -> (demo-world folder, overrides, checkpoint unit, checkpoint interval, last step); three checkpoints.
# finetune validates after every epoch and segment every 2 iterations: a checkpoint is followed by evaluation
# in the uninterrupted run, never in the resumed one.
TASKS = {
    "finetune": (
        "imagenet",
        [*CLASSIFY_TINY, "schedule.epochs=3", "schedule.warmup_epochs=1", "schedule.checkpoint_interval=1"],
        "epoch",
        1,
        3,
    ),
    "segment": (
        "ade",
        [
            *SEGMENT_TINY,
            "schedule.iters=6",
            "schedule.warmup_iters=2",
            "schedule.log_interval=1",
            "schedule.checkpoint_interval=2",
            "schedule.val_interval=2",
            "test.stride=64",
        ],
        "iter",
        2,
        6,
    ),
    "detect": ("coco", [*DETECT_TINY, "schedule.iters=6", "schedule.checkpoint_interval=2"], "iter", 2, 6),
}


def argv(task: str, world: dict, work: Path) -> list[str]:
    folder, overrides, *_ = TASKS[task]
    return [task, "--data", str(world[folder]), "--work-dir", str(work), "--resume", "auto", *overrides, "seed=7"]


def step(path: Path) -> int:
    return int(re.search(r"_(\d+)\.pth", path.name).group(1))


def numbers(work: Path) -> str:
    """metrics.json's numbers, as text (per-class IoU holds NaN for classes absent from the images)."""
    return json.dumps(json.loads((work / "metrics.json").read_text())["metrics"], sort_keys=True)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("task", list(TASKS))
def test_sigkill_during_a_checkpoint_write_then_resume_matches_an_uninterrupted_run(task, demo_world, tmp_path):
    _, _, unit, interval, last = TASKS[task]
    straight, work = tmp_path / "straight", tmp_path / "killed"
    assert main(argv(task, demo_world, straight)) == 0

    # Killed while writing a checkpoint after the first complete one (or, missing that, the final one).
    def writing_a_later_checkpoint() -> bool:
        return any(work.glob(f"{unit}_*.pth")) and any(work.glob(f".{unit}_*.pth.tmp"))

    assert sigkill_when(cli(*argv(task, demo_world, work)), writing_a_later_checkpoint, tmp_path / "killed.log"), (
        f"the run ended before a checkpoint write could be caught: {(tmp_path / 'killed.log').read_text()[-2000:]}"
    )
    torn = next(work.glob(f".{unit}_*.pth.tmp"))
    assert_no_torn_checkpoint_visible(work)
    good = latest_complete_checkpoint(work)
    assert good is not None and step(good) < step(torn) <= step(good) + interval  # one interval of work is lost
    meta = torch.load(good, map_location="cpu", weights_only=True)["meta"]

    assert main(argv(task, demo_world, work)) == 0
    log = max(work.glob("*/*.log")).read_text()  # the resumed run's (work dirs hold one timestamped folder a run)
    assert f"Load checkpoint from {good}" in log and str(torn) not in log
    assert f"resumed epoch: {meta['epoch']}, iter: {meta['iter']}" in log  # started where the checkpoint ended
    assert not list(work.glob(".*.tmp"))  # the torn write was redone and renamed into place
    assert is_complete_checkpoint(work / f"{unit}_{last}.pth")

    assert numbers(work) == numbers(straight)
    reference, resumed = weights(straight / f"{unit}_{last}.pth"), weights(work / f"{unit}_{last}.pth")
    assert reference.keys() == resumed.keys()
    assert [k for k in reference if not torch.equal(reference[k], resumed[k])] == []
