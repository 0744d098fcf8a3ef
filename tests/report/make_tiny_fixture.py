"""Regenerate tests/report/fixtures/tiny/ from a real tiny suite run (what the producers write, nothing else).

    python -m tests.report.make_tiny_fixture                 # runs the suite below in a temp folder (~1 min)
    python -m tests.report.make_tiny_fixture SUITE DEMO_ROOT # copies a finished suite run instead
    python -m tests.report.make_tiny_fixture --sweep         # fixtures/sweep/: a held-out recipe sweep (~20 s)

The suite is tools/configs/suite/tiny.py plus what the report must show and the tiny config leaves out:
the kNN monitor during pre-training (2 epochs, every epoch, on the demo world's ImageNet-style folder) and
both low-shot protocols, at a batch of 2 (the tiny world's 1% / 10% subsets are 1 image per class: 6 images).
Copies every metrics.json, outcomes.npz and mmengine scalar log (vis_data/scalars.json; no checkpoints or
figures), with the run's absolute paths replaced by relative ones so the fixture names no machine.

`--sweep` writes fixtures/sweep/ instead: the tiny suite's scratch fine-tune alone, its recipe chosen by a 2-point
held-out sweep (each point a stage of its own; tools/suite/stages.py), as tests/suite/test_sweep_stages.py runs it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from mae_backbone.runtime.metric_keys import OUTCOMES_FILE
from mae_backbone.runtime.records import METRICS_FILE

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).parent / "fixtures" / "tiny"
SWEEP_OUT = Path(__file__).parent / "fixtures" / "sweep"
SWEEP = [
    "sweep={'finetune': {'optim.blr': [1e-3, 1e-2], 'aug.preset': ['light']}}",
    "sweep_holdout={'fraction': 0.34, 'seed': 0}",
    "report.visualize=False",
]
SCALARS = "scalars.json"  # mmengine's LocalVisBackend log, <run>/<timestamp>/vis_data/scalars.json
LOW_SHOT = [
    "model.img_size=64",
    "data.batch_size=2",
    "data.eval_batch_size=16",
    "data.num_workers=0",
    "schedule.epochs=1",
    "schedule.warmup_epochs=0",
    "schedule.checkpoint_interval=1",
    "schedule.log_interval=1",
    "optim.precision='fp32'",
]
# the tiny suite's pre-training overrides (tools/configs/suite/tiny.py) with 2 epochs: two monitor points
PRETRAIN = [
    "model.img_size=64",
    "data.batch_size=8",
    "data.num_workers=0",
    "schedule.epochs=2",
    "schedule.warmup_epochs=1",
    "schedule.checkpoint_interval=1",
    "schedule.log_interval=1",
    "optim.precision='fp32'",
]


def write_config(tmp: Path) -> Path:
    """The suite config, in `tmp` (it names the repo's tiny suite by its absolute path)."""
    suite = tmp / "tiny_report_suite.py"
    suite.write_text(
        f"_base_ = {str(REPO / 'tools/configs/suite/tiny.py')!r}\n"
        f"protocols = dict(finetune_1pct=dict(overrides={LOW_SHOT!r}), "
        f"finetune_10pct=dict(overrides={LOW_SHOT!r}))\n"
    )
    return suite


def run_suite(tmp: Path) -> tuple[Path, Path]:
    from tools.cli import main as cli

    demo, work = tmp / "demo_tiny", tmp / "suite"
    monitor = [f"monitor.knn.data={str(demo / 'imagenet')!r}", "monitor.knn.every=1"]
    cli(
        [
            "suite",
            str(write_config(tmp)),
            f"data.demo.root={str(demo)!r}",
            f"pretrain.overrides={PRETRAIN + monitor!r}",
            "--work-dir",
            str(work),
        ]
    )
    return work, demo


def run_sweep_suite(tmp: Path) -> tuple[Path, Path]:
    from tools.cli import main as cli

    demo, work = tmp / "demo_tiny", tmp / "suite"
    only = ["--only", "scratch/finetune", "--work-dir", str(work)]
    cli(["suite", str(REPO / "tools/configs/suite/tiny.py"), f"data.demo.root={str(demo)!r}", *SWEEP, *only])
    return work, demo


def copy(suite: str | Path, demo_root: str | Path, out: Path = OUT) -> None:
    src = Path(suite).resolve()
    if out.exists():
        shutil.rmtree(out)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] == "report" or path.name not in (METRICS_FILE, OUTCOMES_FILE, SCALARS):
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        if path.name == OUTCOMES_FILE:
            shutil.copyfile(path, out / rel)
        else:  # the demo world's root first: it may lie inside the suite's
            text = path.read_text().replace(str(Path(demo_root).resolve()), "demo_data").replace(str(src), ".")
            text = text.replace(str(src.parent), "..")  # the generated config beside the suite's folder
            text = text.replace(str(REPO), "<repo>")  # the task configs a record names
            (out / rel).write_text(text)
    print(f"{sum(1 for _ in out.rglob('*.*'))} files -> {out}")


def main(argv: list[str]) -> None:
    if argv == ["--sweep"]:
        with tempfile.TemporaryDirectory(prefix="maebench_sweep_fixture_") as tmp:
            copy(*run_sweep_suite(Path(tmp)), out=SWEEP_OUT)
        return
    if argv:
        copy(*argv[:2])
        return
    with tempfile.TemporaryDirectory(prefix="maebench_tiny_fixture_") as tmp:
        copy(*run_suite(Path(tmp)))


if __name__ == "__main__":
    main(sys.argv[1:])
