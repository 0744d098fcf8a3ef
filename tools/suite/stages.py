"""The suite's protocols as data, and the stage graph built from a resolved suite config.

A stage is one task (tools.commands.TASKS) run in its own work dir under the suite's (`pretrain/`,
`<backbone>/<protocol>/`, and `<backbone>/<protocol>/s<seed>/` when the suite has several seeds). A stage holds
what the task's `build_cfg(config, overrides, **flags)` needs; the suite never writes an argv.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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

    @property
    def done_path(self) -> Path:
        return self.work_dir / self.spec.done_file

    def task(self) -> Any:
        from tools.commands import load_task

        return load_task(self.spec.task)

    def build_cfg(self, launcher: str = "none") -> dict[str, Any]:
        """The stage's resolved config: its task's config file, overrides and flags (resume from the newest
        complete checkpoint, so an interrupted or requeued stage continues)."""
        task = self.task()
        shared = dict(work_dir=str(self.work_dir), launcher=launcher, resume="auto", seed=self.seed)
        accepted = {f.dest for f in task.all_flags}  # robustness has no seed and nothing to resume
        flags = dict(self.flags, **{k: v for k, v in shared.items() if k in accepted and v is not None})
        return task.build_cfg(self.config, self.overrides, **flags)

    def command_line(self) -> str:
        """How to run this stage by hand (shown by --list): the same config, overrides and flags."""
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
                stages.append(
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
