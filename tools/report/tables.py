"""Paper-shaped tables as data: which result kind and metric fills each column, then rows per backbone.

Each table has one row per backbone, a gain row per pre-trained backbone over the from-scratch one,
and, when a row is a paper-scale architecture on real data, the published number and the difference.
A gain between two numbers whose protocols differ (data fingerprint, test mode, evaluator) is not
computed: the cell says "n/c" and the notes say why.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from . import protocol
from .anchors import PAPER_ARCHS, Anchor, lookup
from .collect import Collection, Result


@dataclass(frozen=True)
class Column:
    title: str
    kind: str  # result kind (collect.KINDS)
    metric: tuple[str, ...]  # candidate keys in `metrics`, dotted for nested dicts; first found wins
    anchor: str | None = None  # key of the published number; "@result" = the result's own (iNat/Places year)
    lower_better: bool = False


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    columns: tuple[Column, ...]
    note: str = ""


TOP1 = ("top1", "accuracy/top1", "acc/top1", "top1_acc")
TABLES: tuple[TableSpec, ...] = (
    TableSpec("classification", "Table 3-style: image classification (top-1, %)", (
        Column("fine-tune", "finetune", TOP1, "in1k_finetune"),
        Column("linear probe", "linprobe", TOP1, "in1k_linprobe"))),
    TableSpec("coco", "Table 4: COCO object detection and instance segmentation, Mask R-CNN (AP)", (
        Column("AP box", "detect", ("bbox_mAP", "coco/bbox_mAP", "box_AP", "bbox.AP"), "coco_box"),
        Column("AP mask", "detect", ("segm_mAP", "coco/segm_mAP", "mask_AP", "segm.AP"), "coco_mask"))),
    TableSpec("ade20k", "Table 5: ADE20K semantic segmentation, UperNet (mIoU)", (
        Column("mIoU", "segment", ("mIoU", "miou", "ade20k/mIoU")),)),
    TableSpec("transfer", "Table 6: transfer classification, fine-tuned on each dataset (top-1, %)", (
        Column("iNat", "inat", TOP1, "@result"),
        Column("Places", "places", TOP1, "@result"))),
    TableSpec("robustness", "Table 13: robustness of the fine-tuned classifier, inference only", (
        Column("IN-A top-1", "robustness", ("in_a_top1", "in_a.top1", "imagenet_a.top1"), "in_a"),
        Column("IN-R top-1", "robustness", ("in_r_top1", "in_r.top1", "imagenet_r.top1"), "in_r"),
        Column("IN-Sketch top-1", "robustness", ("in_sketch_top1", "in_sketch.top1",
                                                 "imagenet_sketch.top1"), "in_sketch"),
        Column("IN-C mCE", "robustness", ("in_c_mce", "in_c.mCE", "imagenet_c.mCE", "mCE"), "in_c_mce",
               lower_better=True)),
        note="IN-C is the mean corruption error normalised by AlexNet's (lower is better); the other columns "
             "are top-1 accuracy."),
)


@dataclass
class Cell:
    value: float | None = None
    result: Result | None = None
    status: str | None = None  # "failed", "not available", ... when a stage left no number
    paper: Anchor | None = None

    @property
    def paper_diff(self) -> float | None:
        return None if self.value is None or self.paper is None else self.value - self.paper.value


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
    gains: list[tuple[str, list[float | str | None]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def show_paper(self) -> bool:
        return any(c.paper is not None for r in self.rows for c in r.cells)


def metric(metrics: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in metrics and isinstance(metrics[key], (int, float)):
            return float(metrics[key])
        node: Any = metrics
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return float(node)
    return None


def partial_k(result: Result) -> str | None:
    """Which point of Fig. 9 a record is: the number of tuned last blocks, "mlp", or None."""
    proto = str((result.record.get("protocol") or {}).get("protocol", ""))
    if proto.startswith("partial-"):
        return proto[len("partial-"):]
    if proto == "linprobe" or result.record.get("task") == "linprobe":  # k = 0 is the linear probe
        return "0"
    folder = result.path.parent.name  # `maebench partial --blocks` runs each k in k<k>/
    if folder.startswith("k") and (folder[1:].isdigit() or folder[1:] == "mlp"):
        return folder[1:]
    return None


def partial_points(results: list[Result]) -> dict[str, float]:
    """The Fig. 9 curve of one backbone: {"0": top1, "mlp": top1, "1": top1, ...} (newest record per k)."""
    points: dict[str, float] = {}
    for r in sorted(results, key=lambda r: str(r.record.get("finished_at", ""))):
        k, v = partial_k(r), metric(r.metrics, TOP1)
        if k is not None and v is not None:
            points[k] = v
    return dict(sorted(points.items(), key=lambda kv: _block_order(kv[0])))


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


def _row_order(label: str, role: str) -> tuple[int, str]:
    return (2 if role == "scratch" else 0 if label == "mae" else 1, label)


def _fill(spec: TableSpec, columns: list[Column], coll: Collection, value_of, owns=lambda r, c: True) -> Table:
    kinds = {c.kind for c in columns}
    results = [r for r in coll.results if r.kind in kinds]
    labels = {r.backbone: (r.role, r.arch, r.demo, r.suite) for r in results}
    for s in coll.stages:
        if s.kind in kinds and s.backbone and s.backbone not in labels:
            labels[s.backbone] = ("scratch" if s.backbone == "scratch" else "mae", s.arch, False, s.suite)
    rows = []
    for label in sorted(labels, key=lambda lb: _row_order(lb, labels[lb][0])):
        role, arch, demo, suite = labels[label]
        cells = []
        for col in columns:
            mine = [r for r in results if r.backbone == label and r.kind == col.kind and owns(r, col)]
            mine.sort(key=lambda r: str(r.record.get("finished_at", "")))
            cell = Cell()
            for r in reversed(mine):  # the newest run that has this number
                v = value_of(r, col)
                if v is not None:
                    anchor = dataset_anchor(r) if col.anchor == "@result" else col.anchor
                    paper = None if r.demo or r.arch not in PAPER_ARCHS else lookup(anchor, r.arch, r.role)
                    cell = Cell(v, r, paper=paper)
                    break
            if cell.value is None:
                stage = next((s for s in coll.stages if s.kind == col.kind and s.backbone == label), None)
                cell.status = stage.status if stage else ("no number" if mine else None)
                cell.result = mine[-1] if mine else None
            cells.append(cell)
        rows.append(Row(label, role, arch, cells, demo, suite))
    table = Table(spec, columns, rows)
    _gains(table)
    return table


def _gains(table: Table) -> None:
    """One row per pre-trained backbone: its number minus the from-scratch one, where comparable."""
    for row in table.rows:
        scratch = next((r for r in table.rows if r.role == "scratch" and r.suite == row.suite), None)
        if scratch is None or row is scratch or row.role == "scratch":
            continue
        diffs: list[float | str | None] = []
        for col, mine, base in zip(table.columns, row.cells, scratch.cells):
            if mine.value is None or base.value is None:
                diffs.append(None)
                continue
            why = protocol.comparable(protocol.summary(mine.result.record), protocol.summary(base.result.record))
            if why:
                diffs.append("n/c")
                table.notes.append(f"{row.label} vs {scratch.label}, {col.title}: not comparable: {'; '.join(why)} "
                                   f"([{mine.result.id}] vs [{base.result.id}])")
            else:
                diffs.append(mine.value - base.value)
        table.gains.append((f"{row.label} − {scratch.label}", diffs))


def build_tables(coll: Collection) -> list[Table]:
    tables = [_fill(spec, list(spec.columns), coll, lambda r, c: metric(r.metrics, c.metric)) for spec in TABLES]
    tables.append(partial_table(coll))
    return [t for t in tables if t.rows]


def partial_table(coll: Collection) -> Table:
    """Fig. 9: top-1 vs number of fine-tuned blocks (0 = linear probe, "mlp" = the last block's MLP only)."""
    coll = partial_results(coll)
    keys = sorted({k for r in coll.results if (k := partial_k(r)) is not None}, key=_block_order)
    columns = [Column(f"{k} blocks" if k != "mlp" else "last MLP", "partial", (k,), anchor=f"partial_{k}")
               for k in keys] or [Column("top-1", "partial", ())]
    spec = TableSpec("partial", "Fig. 9: partial fine-tuning, top-1 (%) vs number of fine-tuned last blocks",
                     tuple(columns), note="0 blocks is the linear probe (the linprobe run when the sweep skips k = 0); "
                                          "\"last MLP\" tunes only the last block's MLP; all blocks is full "
                                          "fine-tuning.")
    owns = lambda r, c: bool(c.metric) and partial_k(r) == c.metric[0]  # noqa: E731
    return _fill(spec, columns, coll, lambda r, c: metric(r.metrics, TOP1), owns)
