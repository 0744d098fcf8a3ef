"""Paper-shaped tables as data: which result kind and metric fills each column, then rows per backbone.

Each table has one row per backbone (its cell: the mean over seeds, the 95% bootstrap interval over the
evaluation images and seeds, stats.py), a gain row per pre-trained backbone over the suite's baseline
(its scratch backbone, or the `baseline` it names) with a paired interval, and, when a row is a
paper-scale architecture on real data, the published number, its published spread and a verdict. A gain
between two numbers whose protocols differ (data fingerprint, test mode, evaluator) is not computed: the
cell says "n/c" and the notes say why. The metric keys are the producers' own (metric_keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mae_backbone.errors import ConfigError
from mae_backbone.runtime import metric_keys as keys

from . import protocol, stats
from .anchors import (
    FIG9_PRETRAIN_EPOCHS,
    PAPER_ARCHS,
    Anchor,
    Verdict,
    lookup,
    spread,
    verdict,
)
from .collect import SCRATCH, Collection, Result
from .cost import Cost, combine


@dataclass(frozen=True)
class Column:
    title: str
    kind: str  # result kind (collect.KINDS)
    metric: str  # key in `metrics` (metric_keys), dotted for nested dicts
    anchor: str | None = None  # key of the published number; "@result" = the result's own (iNat/Places year)
    lower_better: bool = False
    part: str | None = None  # Fig. 9: which sweep point (partial_k) the column holds


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    columns: tuple[Column, ...]
    note: str = ""


@dataclass(frozen=True)
class Options:
    """How the intervals are drawn: replicates per cell (COCO AP: its own count, each costs an accumulate)."""

    replicates: int = 1000
    coco_replicates: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("replicates", "coco_replicates"):
            if getattr(self, name) < 0:
                raise ConfigError(f"report {name} must be >= 0 (0: no intervals), got {getattr(self, name)}")


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "classification",
        "Table 3-style: image classification (top-1, %)",
        (
            Column("fine-tune", "finetune", keys.TOP1, "in1k_finetune"),
            Column("linear probe", "linprobe", keys.TOP1, "in1k_linprobe"),
            Column("kNN", "knn", keys.TOP1),
        ),
        note="kNN: weighted k-NN on the frozen encoder's features, no training (classification/knn.py; its k, "
        "temperature and feature in the protocol footnote); the paper reports no kNN number.",
    ),
    TableSpec(
        "lowshot",
        "Low-shot: ImageNet-style fine-tuning on 1% / 10% of the training labels (top-1, %)",
        (Column("1% labels", "finetune_1pct", keys.TOP1), Column("10% labels", "finetune_10pct", keys.TOP1)),
        note="Class-balanced, seeded subsets of the training labels (classification/datasets.py; the same "
        "subset for every backbone of a seed), the full validation set; the subset's list digest is in the "
        "protocol footnote. The paper reports no low-shot number.",
    ),
    TableSpec(
        "coco",
        "Table 4: COCO object detection and instance segmentation, Mask R-CNN (AP)",
        (Column("AP box", "detect", keys.BOX_AP, "coco_box"), Column("AP mask", "detect", keys.MASK_AP, "coco_mask")),
    ),
    TableSpec(
        "ade20k",
        "Table 5: ADE20K semantic segmentation, UperNet (mIoU)",
        (Column("mIoU", "segment", keys.MIOU, "ade20k_miou"),),
    ),
    TableSpec(
        "transfer",
        "Table 6: transfer classification, fine-tuned on each dataset (top-1, %)",
        (Column("iNat", "inat", keys.TOP1, "@result"), Column("Places", "places", keys.TOP1, "@result")),
    ),
    TableSpec(
        "robustness",
        "Table 13: robustness of the fine-tuned classifier, inference only",
        (
            Column("IN-A top-1", "robustness", keys.robustness_top1("a"), "in_a"),
            Column("IN-R top-1", "robustness", keys.robustness_top1("r"), "in_r"),
            Column("IN-Sketch top-1", "robustness", keys.robustness_top1("sketch"), "in_sketch"),
            Column("IN-C mCE", "robustness", keys.IN_C_MCE, "in_c_mce", lower_better=True),
        ),
        note="IN-C is the mean corruption error normalised by AlexNet's (lower is better); the other columns "
        "are top-1 accuracy.",
    ),
)


@dataclass
class Cell:
    value: float | None = None  # the mean over seeds
    result: Result | None = None  # the first seed's run (its protocol describes the cell)
    status: str | None = None  # "failed", "not available", ... when a stage left no number
    paper: Anchor | None = None
    results: list[Result] = field(default_factory=list)  # one per seed, in seed order
    estimate: stats.Estimate | None = None
    outcomes: list[stats.Outcomes] | None = None  # per seed; None when a run saved none
    replicates: int = 0  # bootstrap replicates drawn (0: no interval)
    verdict: Verdict | None = None

    @property
    def cost(self) -> Cost | None:
        """The cost of one run of this number (tools/report/cost.py)."""
        return combine([r.record for r in self.results]) if self.results else None

    @property
    def paper_diff(self) -> float | None:
        return None if self.value is None or self.paper is None else self.value - self.paper.value

    @property
    def interval(self) -> tuple[float, float] | None:
        return self.estimate.interval if self.estimate else None

    @property
    def ids(self) -> str:
        return ",".join(r.id for r in self.results) if self.results else (self.result.id if self.result else "")


@dataclass
class Gain:
    value: float | str | None  # a - b, "n/c" when not comparable, None when a side is missing
    interval: tuple[float, float] | None = None

    @property
    def significant(self) -> bool | None:
        return stats.significant(self.interval)


@dataclass
class Row:
    label: str
    role: str
    arch: str | None
    cells: list[Cell]
    demo: bool = False
    suite: object = None  # the suite folder its numbers come from: gains are computed within one suite


@dataclass
class Table:
    spec: TableSpec
    columns: list[Column]
    rows: list[Row]
    gains: list[tuple[str, list[Gain]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the bootstrap's cost for this table

    @property
    def show_paper(self) -> bool:
        return any(c.paper is not None for r in self.rows for c in r.cells)


def metric(metrics: dict[str, Any], key: str) -> float | None:
    """The number stored under `key` (dotted: nested dicts), or None."""
    node: Any = metrics
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def partial_k(result: Result) -> str | None:
    """Which point of Fig. 9 a record is: the number of tuned last blocks, "mlp", or None."""
    proto = str((result.record.get("protocol") or {}).get("protocol", ""))
    if proto.startswith("partial-"):
        return proto[len("partial-") :]
    if proto == "linprobe" or result.record.get("task") == "linprobe":  # k = 0 is the linear probe
        return "0"
    folder = result.path.parent.name  # `maebench partial --blocks` runs each k in k<k>/
    if folder.startswith("k") and (folder[1:].isdigit() or folder[1:] == "mlp"):
        return folder[1:]
    return None


def partial_results(coll: Collection) -> Collection:
    """The sweep's records, plus each backbone's linear probe as its k = 0 point when the sweep skipped k = 0."""
    sweep = [r for r in coll.results if r.kind == "partial"]
    has_zero = {r.backbone for r in sweep if partial_k(r) == "0"}
    probes = [replace(r, kind="partial") for r in coll.results if r.kind == "linprobe" and r.backbone not in has_zero]
    return Collection(sweep + probes, [s for s in coll.stages if s.kind == "partial"], coll.suites, coll.problems)


def dataset_anchor(result: Result) -> str | None:
    """iNat 2017/18/19 and Places 205/365 have different published numbers: pick by the record's dataset."""
    ds = (result.record.get("protocol") or {}).get("dataset") or {}
    fmt, edition = ds.get("format"), ds.get("year") or ds.get("version")
    return f"{fmt}{edition}" if fmt in ("inat", "places") and edition else result.anchor


def _block_order(k: str) -> float:
    return 0.5 if k == "mlp" else float(k) if k.replace(".", "").isdigit() else 1e9


def _row_order(label: str, role: str, baseline: str | None) -> tuple[int, str]:
    """Pre-trained here first, then checkpoints, then the baseline / scratch rows."""
    return (3 if label == baseline else 2 if role == SCRATCH else 0 if role == "pretrain" else 1, label)


def _per_seed(results: list[Result]) -> list[Result]:
    """The newest run of each seed, in seed order."""
    newest: dict[Any, Result] = {}
    for r in sorted(results, key=lambda r: str(r.record.get("finished_at", ""))):
        newest[r.seed] = r
    return [newest[k] for k in sorted(newest, key=lambda s: (s is None, s if s is not None else 0))]


def _estimate(cell: Cell, col: Column, table_key: str, label: str, values: list[float], opts: Options) -> str | None:
    """Fill `cell.estimate`; return why it has no interval when its runs saved outcomes that do not fit."""
    outcomes = [stats.load_outcomes(r.path.parent, col.metric) for r in cell.results]
    reps, problem = None, None
    if outcomes and all(o is not None for o in outcomes):
        recomputed = [o.value() for o in outcomes]
        off = [(v, w, r) for v, w, r in zip(values, recomputed, cell.results) if abs(v - w) > 0.01 + 1e-3 * abs(v)]
        if off:  # a stale or foreign outcomes file: an interval around another number would mislead
            problem = (
                f"{off[0][2].path.parent}: outcomes give {off[0][1]:.3f}, metrics.json {off[0][0]:.3f}; "
                "no interval (rerun that stage)"
            )
        elif not stats.same_images(outcomes, outcomes):
            problem = f"{col.title}, {label}: the seeds scored different images; no interval"
        else:
            cell.outcomes = outcomes
            cell.replicates = opts.coco_replicates if outcomes[0].kind == "coco" else opts.replicates
        if cell.replicates:
            # shift onto the recorded numbers (the outcomes recompute them up to the recorded rounding)
            shift = float(np.mean(values)) - float(np.mean(recomputed))
            reps = stats.bootstrap(outcomes, cell.replicates, opts.seed, f"{table_key}/{col.title}", label) + shift
    cell.estimate = stats.Estimate(float(np.mean(values)), values, reps)
    return problem


def _fill(spec: TableSpec, columns: list[Column], coll: Collection, opts: Options, owns=lambda r, c: True) -> Table:
    import time

    t0 = time.perf_counter()
    kinds = {c.kind for c in columns}
    results = [r for r in coll.results if r.kind in kinds]
    labels = {r.backbone: (r.role, r.arch, r.demo, r.suite) for r in results}
    for s in coll.stages:
        if s.kind in kinds and s.backbone and s.backbone not in labels:
            labels[s.backbone] = (s.role or "pretrain", s.arch, False, s.suite)
    rows, notes = [], []
    for label in sorted(labels, key=lambda lb: _row_order(lb, labels[lb][0], coll.baseline(labels[lb][3]))):
        role, arch, demo, suite = labels[label]
        cells = []
        for col in columns:
            mine = [r for r in results if r.backbone == label and r.kind == col.kind and owns(r, col)]
            runs = [r for r in _per_seed([r for r in mine if metric(r.metrics, col.metric) is not None])]
            cell = Cell()
            if runs:
                first = runs[0]
                anchor = dataset_anchor(first) if col.anchor == "@result" else col.anchor
                published = "mae" if first.pretrained else SCRATCH  # the anchors' roles
                paper = None if first.demo or first.arch not in PAPER_ARCHS else lookup(anchor, first.arch, published)
                cell = Cell(result=first, results=runs, paper=paper)
                problem = _estimate(cell, col, spec.key, label, [metric(r.metrics, col.metric) for r in runs], opts)
                if problem:
                    notes.append(problem)
                lost = [s for s in coll.stages if s.kind == col.kind and s.backbone == label and s.status != "not run"]
                if lost:  # a seed that left no number: the mean is over the others, say so
                    notes.append(
                        f"{label}, {col.title}: the mean is over {len(runs)} seed(s); "
                        + ", ".join(f"{s.name} {s.status}" for s in lost)
                    )
                cell.value = cell.estimate.value
                if paper is not None:
                    cell.verdict = verdict(paper, spread(anchor, first.arch, published), cell.interval)
            else:
                stage = next((s for s in coll.stages if s.kind == col.kind and s.backbone == label), None)
                cell.status = stage.status if stage else ("no number" if mine else None)
                cell.result = mine[-1] if mine else None
            cells.append(cell)
        rows.append(Row(label, role, arch, cells, demo, suite))
    table = Table(spec, columns, rows, notes=notes)
    _gains(table, coll)
    table.seconds = time.perf_counter() - t0
    return table


def _gains(table: Table, coll: Collection) -> None:
    """One row per pre-trained backbone: its number minus the suite's baseline, where comparable, with the
    paired bootstrap interval when both sides saved outcomes on the same images."""
    for row in table.rows:
        name = coll.baseline(row.suite)
        base = next((r for r in table.rows if r.label == name and r.suite == row.suite), None)
        if base is None or row is base or row.role == SCRATCH or row.suite is None:
            continue
        gains: list[Gain] = []
        for col, mine, other in zip(table.columns, row.cells, base.cells):
            if mine.value is None or other.value is None:
                gains.append(Gain(None))
                continue
            why = protocol.comparable(protocol.summary(mine.result.record), protocol.summary(other.result.record))
            if why:
                gains.append(Gain("n/c"))
                table.notes.append(
                    f"{row.label} vs {base.label}, {col.title}: not comparable: {'; '.join(why)} "
                    f"([{mine.ids}] vs [{other.ids}])"
                )
                continue
            paired = (
                mine.outcomes is not None
                and other.outcomes is not None
                and stats.same_images(mine.outcomes, other.outcomes)
            )
            if mine.outcomes is not None and other.outcomes is not None and not paired:
                table.notes.append(
                    f"{row.label} vs {base.label}, {col.title}: the runs scored different images; no paired interval"
                )
            value, ci = stats.gain(mine.estimate, other.estimate) if paired else (mine.value - other.value, None)
            gains.append(Gain(value, ci))
        table.gains.append((f"{row.label} − {base.label}", gains))


def build_tables(coll: Collection, opts: Options | None = None) -> list[Table]:
    opts = opts or Options()
    tables = [_fill(spec, list(spec.columns), coll, opts) for spec in TABLES]
    tables.append(partial_table(coll, opts))
    return [t for t in tables if t.rows]


def partial_table(coll: Collection, opts: Options | None = None) -> Table:
    """Fig. 9: top-1 vs number of fine-tuned blocks (0 = linear probe, "mlp" = the last block's MLP only)."""
    full, coll = coll, partial_results(coll)
    ks = sorted({k for r in coll.results if (k := partial_k(r)) is not None}, key=_block_order)
    columns = [
        Column(f"{k} blocks" if k != "mlp" else "last MLP", "partial", keys.TOP1, anchor=f"partial_{k}", part=k)
        for k in ks
    ] or [Column("top-1", "partial", keys.TOP1)]
    spec = TableSpec(
        "partial",
        "Fig. 9: partial fine-tuning, top-1 (%) vs number of fine-tuned last blocks",
        tuple(columns),
        note="0 blocks is the linear probe (the linprobe run when the sweep skips k = 0); "
        '"last MLP" tunes only the last block\'s MLP; all blocks is full '
        "fine-tuning.",
    )
    owns = lambda r, c: c.part is not None and partial_k(r) == c.part
    table = _fill(spec, columns, coll, opts or Options(), owns)
    for row in table.rows:  # issue 20: the published points are from an 800-epoch ViT-L
        if any(c.paper is not None for c in row.cells):
            epochs = pretrain_epochs(full, row)
            if epochs != FIG9_PRETRAIN_EPOCHS:
                how = (
                    "an unrecorded number of epochs (a checkpoint)"
                    if epochs is None
                    else f"{epochs} epochs ({'longer' if epochs > FIG9_PRETRAIN_EPOCHS else 'shorter'})"
                )
                table.notes.append(
                    f"{row.label}: the paper's Fig. 9 points come from a {FIG9_PRETRAIN_EPOCHS}-epoch "
                    f"ViT-L; this backbone was pre-trained for {how}, so the paper column is not a "
                    "like-for-like reference"
                )
    return table


def pretrain_epochs(coll: Collection, row: Row) -> int | None:
    """Pre-training epochs of a row's backbone: the suite's own pre-training record (checkpoints: unknown)."""
    if row.role != "pretrain":
        return None
    runs = [r for r in coll.results if r.kind == "pretrain" and r.suite == row.suite]
    epochs = metric(runs[-1].metrics, keys.PRETRAIN_EPOCHS) if runs else None
    return None if epochs is None else int(epochs)
