"""Read every `metrics.json` under the given work dirs and label each result: kind, backbone, protocol.

Labels come from the record itself first (a `backbone` field, the task), then from the suite's own
record (`task: "suite"`, which maps each stage folder to its backbone, protocol and seed), then from the
folder layout `<suite>/<backbone>/<protocol>/`. Each backbone's role is its `source` in the suite record
(`backbones: {label: {source: "pretrain" | "checkpoint" | "scratch"}}`), never its label; the gains are
taken against the suite's `baseline` (a label) when it names one, else against its scratch backbone. A
standalone run's role comes from its protocol's `pretrained` checkpoint (none: scratch). A recipe sweep's grid
points (`<run>/sweep/p<i>/`, scored on held-out training images) are no results: their run's record holds the
sweep (tools/report/sweep.py). Only metrics.json files are read here (the per-image outcomes beside them are read
by `tables`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mae_backbone.errors import BadInputError
from mae_backbone.runtime.records import METRICS_FILE

from .sweep import is_point

SCRATCH = "scratch"  # the one source that is not pre-trained
KINDS = (
    "pretrain",
    "finetune",
    "linprobe",
    "knn",
    "finetune_1pct",
    "finetune_10pct",
    "partial",
    "inat",
    "places",
    "detect",
    "segment",
    "robustness",
)


@dataclass
class Result:
    path: Path
    record: dict[str, Any]
    kind: str
    backbone: str
    arch: str | None = None
    anchor: str | None = None  # the published number to compare with (Table 6 dataset), if any
    role: str = "pretrain"  # the backbone's source: "pretrain" | "checkpoint" | "scratch"
    demo: bool = False  # trained / evaluated on the synthetic demo world
    suite: Path | None = None  # the suite that ran it (None: a standalone run)
    id: str = ""  # the protocol footnote, e.g. "p3"
    seed: int | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record.get("metrics") or {}

    @property
    def pretrained(self) -> bool:
        return self.role != SCRATCH


@dataclass
class Stage:
    """A suite stage that left no numbers: failed, blocked, not available or not run."""

    name: str
    kind: str
    backbone: str | None
    status: str
    error: str | None
    suite: Path
    arch: str | None = None
    role: str | None = None


@dataclass
class Collection:
    results: list[Result] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    suites: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def baseline(self, suite: Path | None) -> str | None:
        """The label the gains of `suite` are taken against: its `baseline`, else its scratch backbone."""
        record = next((rec for path, rec in self.suites if path.parent == suite), None)
        if record is None:
            return None
        if record.get("baseline"):
            return str(record["baseline"])
        return next(
            (label for label, b in (record.get("backbones") or {}).items() if (b or {}).get("source") == SCRATCH), None
        )


LOW_SHOT_KINDS = {0.01: "finetune_1pct", 0.1: "finetune_10pct"}  # the suite's low-shot protocols (tools/suite)


def _kind(record: dict[str, Any]) -> str:
    """A standalone run's kind from its record: a fine-tune on iNat / Places data is a Table 6 number (the
    classification protocol's `dataset.format`); one on a low-shot subset is a low-shot number (1% / 10%: the
    low-shot table; any other subset: `finetune_lowshot`, in no table), never a Table 3 fine-tune."""
    task = str(record.get("task", "unknown"))
    protocol = record.get("protocol") or {}
    dataset, subset = protocol.get("dataset"), protocol.get("low_shot")
    fmt = dataset.get("format") if isinstance(dataset, dict) else None
    if task == "finetune" and isinstance(subset, dict):
        return (
            LOW_SHOT_KINDS.get(subset.get("fraction"), "finetune_lowshot")
            if subset.get("mode") == "fraction"
            else "finetune_lowshot"
        )
    return fmt if task == "finetune" and fmt in ("inat", "places") else task


def _standalone_role(protocol: dict[str, Any]) -> str:
    """A run outside a suite: scratch when its protocol records that no pre-trained checkpoint was loaded."""
    return SCRATCH if "pretrained" in protocol and not protocol["pretrained"] else "checkpoint"


def collect(work_dirs: list[str | Path]) -> Collection:
    out = Collection()
    files: list[Path] = []
    for wd in work_dirs:
        wd = Path(wd)
        if wd.is_file() and wd.name == METRICS_FILE:
            files.append(wd)
        elif wd.is_dir():
            files += sorted(wd.rglob(METRICS_FILE))
        else:
            raise BadInputError(f"{wd}: no such work dir; pass the folder(s) a run or `maebench suite` wrote")
    if not files:
        raise BadInputError(
            f"no {METRICS_FILE} under {', '.join(map(str, work_dirs))}: nothing to report "
            "(run `maebench suite`, or pass the work dir of a finished run)"
        )
    records: list[tuple[Path, dict[str, Any]]] = []
    for f in dict.fromkeys(p.resolve() for p in files):
        try:
            rec = json.loads(f.read_text())
            if not isinstance(rec, dict) or "task" not in rec:
                raise ValueError("not a maebench metrics record (no 'task')")
        except (OSError, ValueError) as err:
            out.problems.append(f"{f}: unreadable ({err}); rerun that stage (or delete the file)")
            continue
        if rec["task"] != "suite" and is_point(f):
            continue
        (out.suites if rec["task"] == "suite" else records).append((f, rec))

    stage_info: dict[Path, tuple[dict[str, Any], dict[str, Any], Path]] = {}
    for path, suite in out.suites:
        root = path.parent
        demo = bool((suite.get("protocol") or {}).get("demo"))
        roles = {label: (b or {}).get("source") for label, b in (suite.get("backbones") or {}).items()}
        for name, info in (suite.get("stages") or {}).items():
            stage_info[(root / info["work_dir"]).resolve()] = (info, {"demo": demo, "roles": roles}, root)
            if info.get("status") not in ("done", "cached"):
                out.stages.append(
                    Stage(
                        name,
                        info.get("protocol", "?"),
                        info.get("backbone"),
                        info.get("status", "?"),
                        info.get("error"),
                        root,
                        info.get("arch"),
                        roles.get(info.get("backbone")),
                    )
                )

    for path, rec in records:
        # the stage that wrote it: its folder or an ancestor (a partial sweep writes one record per k in k<k>/)
        info, suite, root = next(
            (stage_info[d] for d in (path.parent, *path.parent.parents) if d in stage_info), ({}, {}, None)
        )
        protocol = rec.get("protocol") or {}
        backbone = rec.get("backbone") or protocol.get("backbone") or info.get("backbone")
        if backbone is None and root is None:  # a standalone run: its folder names the row
            backbone = path.parent.name
        kind = info.get("protocol") or _kind(rec)
        role = (suite.get("roles") or {}).get(backbone) or _standalone_role(protocol)
        seed = rec.get("seed") if rec.get("seed") is not None else info.get("seed")
        out.results.append(
            Result(
                path,
                rec,
                kind,
                str(backbone or "pretrain"),
                arch=info.get("arch") or protocol.get("arch"),
                anchor=info.get("anchor") or protocol.get("anchor"),
                role=role,
                demo=bool(suite.get("demo") or protocol.get("demo")),
                suite=root,
                seed=seed,
            )
        )
    order = {k: i for i, k in enumerate(KINDS)}
    out.results.sort(
        key=lambda r: (order.get(r.kind, len(order)), not r.pretrained, r.backbone, -1 if r.seed is None else r.seed)
    )
    for i, r in enumerate(out.results, 1):
        r.id = f"p{i}"
    return out
