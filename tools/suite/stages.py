"""The suite's protocols as data, and the stage plan built from a resolved suite config.

A stage is one `maebench` subcommand run in its own work dir under the suite's (`pretrain/`,
`<backbone>/<protocol>/`). The table below says, per protocol, which subcommand runs it, which data
roots it reads, how the backbone reaches it, and what it needs first. The argv templates use
`{name}` placeholders filled from the stage context (data roots, checkpoint, architecture).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Protocol:
    command: str  # a `maebench` subcommand (a key of tools.cli.COMMANDS)
    task: str  # what its metrics.json calls the task
    args: tuple[str, ...] = ()  # argv flags (templates), always passed
    pretrained_args: tuple[str, ...] = ()  # flags passed for a backbone with a checkpoint
    overrides: tuple[str, ...] = ("arch={arch!r}",)  # config overrides (templates): the backbone's architecture
    needs: tuple[str, ...] = ()  # protocols of the same backbone that must have finished
    weight: float = 30.0  # expected seconds in the demo suite: the ETA before any run has been timed
    anchor: str | None = None  # which published number a paper-scale run is compared with (tools/report)
    done_file: str = "metrics.json"  # its presence in the work dir means the stage finished


# Order = run order. `finetune` comes before `robustness`, which evaluates the fine-tuned classifier.
PROTOCOLS: dict[str, Protocol] = {
    "finetune": Protocol("finetune", "finetune", ("--data", "{imagenet}"), ("--pretrained", "{checkpoint}"),
                         weight=35),
    "linprobe": Protocol("linprobe", "linprobe", ("--data", "{imagenet}"), ("--pretrained", "{checkpoint}"),
                         weight=16),
    # a sweep (`--blocks`) writes one metrics.json per k in k<k>/ and partial_sweep.json when all are done
    "partial": Protocol("partial", "partial", ("--data", "{imagenet}"), ("--pretrained", "{checkpoint}"),
                        weight=55, done_file="partial_sweep.json"),
    "inat": Protocol("finetune", "finetune", ("--data", "{inat}"), ("--pretrained", "{checkpoint}"),
                     weight=35, anchor="inat2019"),
    "places": Protocol("finetune", "finetune", ("--data", "{places}"), ("--pretrained", "{checkpoint}"),
                       weight=23, anchor="places365"),
    "detect": Protocol("detect", "detect", ("--data", "{coco}"), ("--pretrained", "{checkpoint}"),
                       weight=60),
    "segment": Protocol("segment", "segment", ("--data", "{ade}"), ("--pretrained", "{checkpoint}"),
                        weight=66),
    "robustness": Protocol("robustness", "robustness", ("{finetuned}", "--data", "{robustness}"),
                           overrides=(), needs=("finetune",), weight=16),
}
PRETRAIN = Protocol("pretrain", "pretrain", ("--data", "{pretrain}"), weight=31)
FINETUNED_CHECKPOINT = "classifier.safetensors"  # what `maebench finetune` leaves in its work dir


@dataclass
class Stage:
    name: str  # "pretrain" or "<backbone>/<protocol>": also its folder under the suite work dir
    protocol: str
    spec: Protocol
    work_dir: Path
    backbone: str | None = None
    needs: list[str] = field(default_factory=list)  # stage names that must have succeeded first
    config: str | None = None  # the task's config file (None: the subcommand's default)
    overrides: list[str] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # placeholder values for the argv templates
    anchor: str | None = None

    @property
    def done_path(self) -> Path:
        return self.work_dir / self.spec.done_file

    def accepted_flags(self) -> set[str] | None:
        """The option strings of the subcommand's parser (None when this install lacks the subcommand)."""
        from .runner import load_command

        module, _ = load_command(self.spec.command)
        if module is None:
            return None
        import argparse

        parser = argparse.ArgumentParser(prog=f"maebench {self.spec.command}")
        module.add_arguments(parser)
        return {o for a in parser._actions for o in a.option_strings}

    def argv(self, seed: int | None, launcher: str, accepts: set[str] | None = None) -> list[str]:
        """The subcommand's command line: [config] overrides... flags... The shared flags (--resume auto so an
        interrupted stage continues, --seed, --launcher) go only to a subcommand that `accepts` them."""
        pretrained = self.context.get("checkpoint") is not None
        flags = list(self.spec.args) + list(self.spec.pretrained_args if pretrained else ()) + self.extra_args
        fill = lambda words: [w.format_map(self.context) for w in words]  # noqa: E731
        own = fill(self.spec.overrides) if self.backbone else []  # not pretrain: its config fixes the arch
        # the config's own overrides go through as written (they may hold braces: dict literals)
        argv = ([self.config] if self.config else []) + own + self.overrides + fill(flags)
        argv += ["--work-dir", str(self.work_dir)]
        shared = [("--resume", "auto"), ("--launcher", launcher)] + ([("--seed", str(seed))] if seed is not None else [])
        for flag, value in shared:
            if accepts is None or flag in accepts:
                argv += [flag, value]
        return argv


def build_plan(suite: dict[str, Any]) -> list[Stage]:
    """Stages in run order from a resolved suite (see tools.suite.config.resolve)."""
    root, data = Path(suite["work_dir"]), suite["data"]
    stages: list[Stage] = []
    if any(b["source"] == "pretrain" for b in suite["backbones"].values()):
        pre = suite["pretrain"]
        stages.append(Stage("pretrain", "pretrain", PRETRAIN, root / "pretrain", config=pre.get("config"),
                            overrides=list(pre.get("overrides", [])), extra_args=list(pre.get("args", [])),
                            context=dict(data)))
    for name, backbone in suite["backbones"].items():
        for proto, opts in suite["protocols"].items():
            spec = PROTOCOLS[proto]
            needs = [f"{name}/{n}" for n in spec.needs]
            if backbone["source"] == "pretrain":
                needs.insert(0, "pretrain")
            work_dir = root / name / proto
            # the backbone's own recipe goes last, so it wins over the protocol's shared overrides
            overrides = list(opts.get("overrides", [])) + list((backbone.get("overrides") or {}).get(proto, []))
            context = dict(data, checkpoint=backbone.get("checkpoint"), arch=backbone["arch"],
                           finetuned=str(root / name / "finetune" / FINETUNED_CHECKPOINT))
            stages.append(Stage(f"{name}/{proto}", proto, spec, work_dir, backbone=name, needs=needs,
                                config=opts.get("config"), overrides=overrides,
                                extra_args=list(opts.get("args", [])), context=context,
                                anchor=opts.get("anchor", spec.anchor)))
    return stages


def select(stages: list[Stage], only: list[str], skip: list[str]) -> list[Stage]:
    """`--only`/`--skip` items match a stage name (`mae/finetune`), a protocol (`finetune`) or a backbone (`mae`)."""
    def hit(stage: Stage, items: list[str]) -> bool:
        return any(i in (stage.name, stage.protocol, stage.backbone) for i in items)

    from mae_backbone.runtime.config import refuse_unknown

    known = {s.name for s in stages} | {s.protocol for s in stages} | {s.backbone for s in stages if s.backbone}
    refuse_unknown(only + skip, sorted(known), "stage", "--only/--skip")
    return [s for s in stages if (not only or hit(s, only)) and not hit(s, skip)]
