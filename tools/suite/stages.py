"""The suite's protocols as data, and the stage graph built from a resolved suite config.

A stage is one task (tools.commands.TASKS) run in its own work dir under the suite's (`pretrain/`,
`<backbone>/<protocol>/`, and `<backbone>/<protocol>/s<seed>/` when the suite has several seeds). A stage holds
what the task's `build_cfg(config, overrides, **flags)` needs; the suite never writes an argv.

A protocol with a recipe sweep (the backbone's `sweep`, tools/suite/config.py) is N+1 stages: one per grid point,
`<stage>/sweep/p<i>` (trained on the fitting part of train, scored on the held-out part: mae_backbone/runtime/
sweep.py), each its own local run or Slurm job, then the protocol stage itself, which needs them all: its run is
the task's own sweep, whose points are then done, so only the refit on the whole training split and its one
evaluation on val remain. What needs the protocol (robustness) needs that stage, as without a sweep.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mae_backbone.runtime.records import METRICS_FILE
from mae_backbone.runtime.sweep import SWEEP_DIR, point_dir


@dataclass(frozen=True)
class Protocol:
    task: str  # a task of tools.commands.TASKS; also what its metrics.json calls the task
    data: str  # the suite data root it reads (a key of config.DATA_KEYS)
    needs: tuple[str, ...] = ()  # protocols of the same backbone (and seed) that must have finished
    weight: float = 30.0  # expected seconds in the demo suite: the ETA before any run has been timed
    anchor: str | None = None  # which published number a paper-scale run is compared with (tools/report)
    done_file: str = "metrics.json"  # its presence in the work dir means the stage finished
    on_classifier: bool = False  # evaluates the classifier its `needs` fine-tuned, not the backbone
    overrides: tuple[str, ...] = ()  # what makes it this protocol (low-shot: the fraction of training labels)


# Order = run order. `finetune` comes before `robustness`, which evaluates the fine-tuned classifier.
PROTOCOLS: dict[str, Protocol] = {
    "finetune": Protocol("finetune", "imagenet", weight=35),
    "linprobe": Protocol("linprobe", "imagenet", weight=16),
    "knn": Protocol("knn", "imagenet", weight=8),
    # a sweep (`blocks`) writes one metrics.json per k in k<k>/ and partial_sweep.json when all are done
    "partial": Protocol("partial", "imagenet", weight=55, done_file="partial_sweep.json"),
    # low-shot (1% / 10% of the labels, class-balanced and seeded: classification/datasets.py), as MAE's follow-ups
    # report ImageNet fine-tuning; the published 1% / 10% ImageNet lists can be given with data.subset_file
    "finetune_1pct": Protocol("finetune", "imagenet", weight=10, overrides=("data.fraction=0.01",)),
    "finetune_10pct": Protocol("finetune", "imagenet", weight=12, overrides=("data.fraction=0.1",)),
    "inat": Protocol("finetune", "inat", weight=35, anchor="inat2019"),
    "places": Protocol("finetune", "places", weight=23, anchor="places365"),
    "detect": Protocol("detect", "coco", weight=60),
    "segment": Protocol("segment", "ade", weight=66),
    "robustness": Protocol("robustness", "robustness", needs=("finetune",), weight=16, on_classifier=True),
}
PRETRAIN = Protocol("pretrain", "pretrain", weight=31)
FINETUNED_CHECKPOINT = "classifier.safetensors"  # what `maebench finetune` leaves in its work dir


@dataclass
class Stage:
    name: str  # "pretrain", "<backbone>/<protocol>" or "<backbone>/<protocol>/s<seed>": also its folder
    protocol: str
    spec: Protocol
    work_dir: Path
    backbone: str | None = None
    seed: int | None = None
    needs: list[str] = field(default_factory=list)  # stage names that must have succeeded first
    config: str | None = None  # the task's config file (None: the task's default)
    overrides: list[str] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)  # the task's flags (data, pretrained, blocks, ...)
    inputs: list[str] = field(default_factory=list)  # files it reads that another stage or the user made
    anchor: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)  # per-stage Slurm resources (tools/suite/resources.py)
    grid: dict[str, list[Any]] | None = None  # the recipe sweep of a protocol stage (its points: stages of their own)
    point: int | None = None  # a sweep point: its index in the grid of `parent`
    parent: Stage | None = None  # a sweep point's protocol stage (its config, grid included)

    @property
    def done_path(self) -> Path:
        return self.work_dir / (METRICS_FILE if self.point is not None else self.spec.done_file)

    def task(self) -> Any:
        from tools.commands import load_task

        return load_task(self.spec.task)

    def build_cfg(self, launcher: str = "none") -> dict[str, Any]:
        """The stage's resolved config: its task's config file, overrides and flags (resume from the newest
        complete checkpoint, so an interrupted or requeued stage continues); a sweep point's is its point of the
        protocol stage's config (the sweep's own `point_cfgs`: the held-out view as data, no grid)."""
        task = self.task()
        if self.parent is not None:
            from mae_backbone.runtime.sweep import point_cfgs

            cfg = point_cfgs(self.parent.build_cfg(launcher), task.sweep_adapter)[self.point]
            if Path(cfg["work_dir"]) != self.work_dir:  # the two must agree on where a point lives
                raise RuntimeError(f"{self.name}: the sweep puts this point in {cfg['work_dir']}, not {self.work_dir}")
            return cfg
        shared = dict(work_dir=str(self.work_dir), launcher=launcher, resume="auto", seed=self.seed)
        accepted = {f.dest for f in task.all_flags}  # robustness has no seed and nothing to resume
        flags = dict(self.flags, **{k: v for k, v in shared.items() if k in accepted and v is not None})
        return task.build_cfg(self.config, self.overrides, **flags)

    def execute(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Run the task on `cfg` here; a sweep point first makes the held-out view it trains and scores on (each
        point does, so that every point runs alone: the sweep makes it once, safely when points run at once)."""
        task = self.task()
        if self.parent is not None:
            from mae_backbone.runtime.sweep import prepare_holdout

            prepare_holdout(self.parent.build_cfg(), task.sweep_adapter)
        return task.execute(cfg)

    def clear(self) -> None:
        """Empty the stage's folder before a redo, except its sweep points' folders: they are stages of their own
        (their own cache decides), and the points of a redone protocol stage have just run. A redone point also
        drops a held-out view made for another held-out part (fraction, seed, data), which its run would refuse."""
        if self.parent is not None:
            self._drop_stale_view()
        if not self.work_dir.exists():
            return
        if not self.grid:
            shutil.rmtree(self.work_dir)
            return
        keep = self.work_dir / SWEEP_DIR
        for child in self.work_dir.iterdir():
            if child == keep:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    def _drop_stale_view(self) -> None:
        from mae_backbone.errors import ConfigError
        from mae_backbone.runtime.sweep import HOLDOUT_DIR, HOLDOUT_FILE, prepare_holdout

        view = self.parent.work_dir / HOLDOUT_DIR
        if (view / HOLDOUT_FILE).is_file():  # complete: prepare_holdout only compares it with what the run asks for
            try:
                prepare_holdout(self.parent.build_cfg(), self.task().sweep_adapter)
            except ConfigError:
                shutil.rmtree(view)

    def command_line(self) -> str:
        """How to run this stage by hand (shown by --list): the same config, overrides and flags (a sweep point:
        its protocol stage's, which runs every point, and the point's values)."""
        if self.parent is not None:
            from mae_backbone.runtime.sweep import grid_points

            values = " ".join(grid_points(self.parent.grid)[self.point])
            return f"{self.parent.command_line()}  # point {self.point}: {values}"
        words = [self.config] if self.config else []
        words += self.overrides
        flags = dict(self.flags, work_dir=str(self.work_dir), **({"seed": self.seed} if self.seed is not None else {}))
        for key, value in flags.items():
            if key == "checkpoint":
                words.insert(0, str(value))
            elif value is True:
                words.append(f"--{key.replace('_', '-')}")
            elif value is not None and value is not False:
                words += [f"--{key.replace('_', '-')}", str(value)]
        return f"maebench {self.spec.task} " + " ".join(words)


def stage_name(backbone: str, protocol: str, seed: int, seeds: list[int]) -> str:
    return f"{backbone}/{protocol}" + (f"/s{seed}" if len(seeds) > 1 else "")


def sweep_overrides(grid: dict[str, list[Any]], holdout: dict[str, Any] | None) -> list[str]:
    """The task config's own sweep keys: the grid, and the suite's held-out part when it names one."""
    held = [f"sweep.holdout={holdout['fraction']!r}", f"sweep.seed={holdout['seed']!r}"] if holdout else []
    return [f"sweep.grid={grid!r}", *held]


def with_points(stage: Stage) -> list[Stage]:
    """A protocol stage with a grid: its points (`<stage>/sweep/p<i>`, needing what it needs), then itself, now
    needing every point too."""
    if not stage.grid:
        return [stage]
    points = [
        replace(
            stage,
            name=f"{stage.name}/{point_dir(Path(), i)}",
            work_dir=point_dir(stage.work_dir, i),
            needs=list(stage.needs),
            grid=None,
            point=i,
            parent=stage,
            anchor=None,
        )
        for i in range(math.prod(len(v) for v in stage.grid.values()))
    ]
    stage.needs += [p.name for p in points]
    return [*points, stage]


def build_plan(suite: dict[str, Any]) -> list[Stage]:
    """Stages in run order from a resolved suite (see tools.suite.config.resolve): pre-training once, then per
    backbone, per protocol, per seed each transfer."""
    root, data, seeds = Path(suite["work_dir"]), suite["data"], suite["seeds"]
    stages: list[Stage] = []
    if any(b["source"] == "pretrain" for b in suite["backbones"].values()):
        pre = suite["pretrain"]
        stages.append(
            Stage(
                "pretrain",
                "pretrain",
                PRETRAIN,
                root / "pretrain",
                seed=suite.get("seed"),
                config=pre.get("config"),
                overrides=list(pre.get("overrides", [])),
                flags=dict(pre.get("flags") or {}, data=data["pretrain"]),
            )
        )
    for name, backbone in suite["backbones"].items():
        for proto, opts in suite["protocols"].items():
            spec = PROTOCOLS[proto]
            for seed in seeds:
                stage = stage_name(name, proto, seed, seeds)
                needs = [stage_name(name, n, seed, seeds) for n in spec.needs]
                if backbone["source"] == "pretrain":
                    needs.insert(0, "pretrain")
                work_dir = root / stage
                flags = dict(opts.get("flags") or {}, data=data[spec.data])
                overrides = list(spec.overrides) + list(opts.get("overrides", []))
                if spec.on_classifier:  # e.g. robustness: the classifier this backbone's fine-tune made
                    classifier = root / stage_name(name, spec.needs[0], seed, seeds) / FINETUNED_CHECKPOINT
                    flags["checkpoint"], inputs = str(classifier), [str(classifier)]
                else:
                    overrides.insert(0, f"arch={backbone['arch']!r}")
                    inputs = [backbone["checkpoint"]] if backbone.get("checkpoint") else []
                    if inputs:
                        flags["pretrained"] = backbone["checkpoint"]
                # the backbone's own recipe goes last, so it wins over the protocol's shared overrides
                overrides += list((backbone.get("overrides") or {}).get(proto, []))
                grid = (backbone.get("sweep") or {}).get(proto)
                if grid:
                    overrides += sweep_overrides(grid, suite.get("sweep_holdout"))
                stages += with_points(
                    Stage(
                        stage,
                        proto,
                        spec,
                        work_dir,
                        backbone=name,
                        seed=seed,
                        needs=needs,
                        config=opts.get("config"),
                        overrides=overrides,
                        flags=flags,
                        inputs=inputs,
                        anchor=opts.get("anchor", spec.anchor),
                        grid=grid or None,
                    )
                )
    return stages


def select(stages: list[Stage], only: list[str], skip: list[str]) -> list[Stage]:
    """`--only`/`--skip` items match a stage name (`mae/finetune`), a protocol (`finetune`), a backbone (`mae`) or a
    seed (`s1`)."""

    def keys(stage: Stage) -> set[str]:
        return {stage.name, stage.protocol, stage.backbone or "", f"s{stage.seed}", "/".join(stage.name.split("/")[:2])}

    def hit(stage: Stage, items: list[str]) -> bool:
        return bool(keys(stage) & set(items))

    from mae_backbone.runtime.config import refuse_unknown

    known = sorted(set().union(*(keys(s) for s in stages)) - {""})
    refuse_unknown(only + skip, known, "stage", "--only/--skip")
    return [s for s in stages if (not only or hit(s, only)) and not hit(s, skip)]
