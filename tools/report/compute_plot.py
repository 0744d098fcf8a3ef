"""Accuracy against training compute: the paper's Fig. 9 with each protocol's measured training FLOPs on the
x-axis instead of its number of tuned blocks (issue 22; section 4.3 argues the choice of protocol is a cost
question). One line per backbone through its classification protocols in order of cost: the linear probe,
each partial fine-tuning point, full fine-tuning; the low-shot fine-tunes as open markers beside it; the kNN
probe, which trains nothing (0 FLOPs, off a log axis), as a marker on the y-axis. Error bars: the cells'
95% intervals. Every point is a table cell, so the figure and the tables show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .tables import Cell, Table

# (table key, column kind) -> the point's role; partial columns are labelled by their sweep point
LINE = {("partial", "partial"), ("classification", "finetune")}
LOW_SHOT = {("lowshot", "finetune_1pct"): "1% labels", ("lowshot", "finetune_10pct"): "10% labels"}
KNN = ("classification", "knn")


@dataclass(frozen=True)
class Point:
    label: str  # "linear", "MLP", "1 blocks", "full", "10% labels", "kNN"
    flops: float  # training FLOPs of one run (0: kNN)
    value: float  # top-1 (%), the cell's number
    interval: tuple[float, float] | None
    ids: str  # the cell's protocol footnotes


def _label(table: str, col_title: str, part: str | None) -> str:
    if table == "classification":
        return "full"
    return {"0": "linear", "mlp": "MLP"}.get(part or "", col_title)


def _point(label: str, cell: Cell, trains: bool = True) -> Point | None:
    """A cell with a number and, unless it trains nothing, recorded training FLOPs (else not plottable)."""
    cost = cell.cost
    if cell.value is None or cost is None or (trains and not cost.train_flops):
        return None
    return Point(label, cost.train_flops, cell.value, cell.interval, cell.ids)


def compute_points(tables: list[Table]) -> dict[str, dict[str, list[Point]]]:
    """backbone -> {"line": [...] (by FLOPs), "low_shot": [...], "knn": [...]}: what the figure draws."""
    out: dict[str, dict[str, list[Point]]] = {}
    for t in tables:
        for row in t.rows:
            mine = out.setdefault(row.label, {"line": [], "low_shot": [], "knn": []})
            for col, cell in zip(t.columns, row.cells):
                where = (t.spec.key, col.kind)
                if where in LINE and (p := _point(_label(t.spec.key, col.title, col.part), cell)):
                    mine["line"].append(p)
                elif where in LOW_SHOT and (p := _point(LOW_SHOT[where], cell)):
                    mine["low_shot"].append(p)
                elif where == KNN and (p := _point("kNN", cell, trains=False)):
                    mine["knn"].append(p)
    for mine in out.values():
        mine["line"].sort(key=lambda p: p.flops)
    return {label: pts for label, pts in out.items() if pts["line"] or pts["low_shot"]}


def _err(points: list[Point]) -> list[list[float]]:
    return [
        [p.value - p.interval[0] if p.interval else 0.0 for p in points],
        [p.interval[1] - p.value if p.interval else 0.0 for p in points],
    ]


def _annotate(ax, points: list[Point], color: str, dy: int) -> None:
    """Each point's label beside it; points at the same place (e.g. equal 1% / 10% subsets) share one label."""
    at: dict[tuple[float, float], list[str]] = {}
    for p in points:
        at.setdefault((p.flops, p.value), []).append(p.label)
    for (x, y), labels in at.items():
        ax.annotate(" / ".join(labels), (x, y), textcoords="offset points", xytext=(4, dy), fontsize=6, color=color)


def _curve(ax, points: list[Point], color: str, dy: int, label: str, **style) -> None:
    """Points with their error bars in one legend entry, each labelled `dy` points above (below if < 0)."""
    ax.errorbar(
        [p.flops for p in points],
        [p.value for p in points],
        yerr=_err(points),
        capsize=3,
        color=color,
        label=label,
        **style,
    )
    _annotate(ax, points, color, dy)


def accuracy_vs_compute(tables: list[Table], out: Path) -> Path | None:
    """Write the figure to `out` (accuracy_vs_compute.png); None when no cell has recorded training FLOPs."""
    curves = compute_points(tables)
    if not curves:
        return None
    from .plots import _plt, _save  # the report's one matplotlib setup (Agg) and saving

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    on_axis = ax.get_yaxis_transform()  # x in axes units (0 = the y-axis), y in data units
    for i, (label, pts) in enumerate(curves.items()):
        color = f"C{i}"
        if pts["line"]:
            _curve(ax, pts["line"], color, 4, f"{label}: linear → partial → full", marker="o")
        if pts["low_shot"]:
            _curve(ax, pts["low_shot"], color, -9, f"{label}: low-shot fine-tuning", fmt="s", mfc="none")
        for p in pts["knn"]:
            ax.plot(
                [0.0],
                [p.value],
                marker=">",
                ms=8,
                color=color,
                transform=on_axis,
                clip_on=False,
                label=f"{label}: kNN (no training), on the y-axis",
            )
            if p.interval:
                ax.plot([0.0, 0.0], list(p.interval), lw=3, alpha=0.5, color=color, transform=on_axis, clip_on=False)
    ax.set_xscale("log")
    xs = [p.flops for pts in curves.values() for p in pts["line"] + pts["low_shot"]]
    ax.set_xlim(min(xs) / 2.5, max(xs) * 2.5)  # room between the y-axis (kNN) and the cheapest run
    ax.set_xlabel("training FLOPs of one run (measured, log scale)", fontsize=8)
    ax.set_ylabel("top-1 (%), 95% interval", fontsize=8)
    ax.set_title("accuracy vs training compute (paper Fig. 9, cost on the x-axis)", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return _save(fig, out)
