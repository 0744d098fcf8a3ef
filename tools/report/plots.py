"""PNG figures: training curves (with pre-training's kNN monitor), the partial fine-tuning curve (Fig. 9, with 95%
interval bars), the gains over the baseline with their paired intervals, per-corruption robustness bars, and
reconstruction triplets of the pre-trained model (Figs. 2-3) on demo and COCO-style images.

Training curves come from mmengine's scalar logs (`<run>/<timestamp>/vis_data/scalars.json`) beside
each metrics.json; everything else from the metrics.json records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mae_backbone.runtime import metric_keys as keys

from .collect import Collection
from .tables import Table


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


KNN_MONITOR = "knn_top1"  # the scalar tag of pre-training's kNN monitor (classification/knn_monitor.py)


def _scalar_rows(run_dir: Path, key: str) -> list[dict[str, Any]]:
    """The logged rows holding `key`, in step order, across resumed sessions (one timestamped folder each)."""
    rows: dict[int, dict[str, Any]] = {}
    for f in sorted(run_dir.glob("*/vis_data/scalars.json")):
        for line in f.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of an interrupted run
            if key in row and "step" in row:
                rows[int(row["step"])] = row
    return [rows[k] for k in sorted(rows)]


def scalar_log(run_dir: Path) -> list[dict[str, Any]]:
    """Training-loss scalars of a run, in step order."""
    return _scalar_rows(run_dir, "loss")


def knn_monitor_log(run_dir: Path, record: dict[str, Any]) -> list[tuple[int, float]]:
    """(iteration, top-1) of pre-training's kNN monitor: the scalar logs (every session of a resumed run), else
    the record's `knn_monitor` (this session's evaluations); empty when the monitor was off."""
    logged = [(int(r["step"]), float(r[KNN_MONITOR])) for r in _scalar_rows(run_dir, KNN_MONITOR)]
    recorded = (record.get("metrics") or {}).get("knn_monitor") or []
    return logged or [(int(p["iter"]), float(p["top1"])) for p in recorded if isinstance(p, dict)]


def training_curves(coll: Collection, out: Path) -> Path | None:
    """The training loss of every run, a panel per kind; pre-training's kNN monitor (top-1) on the right axis."""
    runs: dict[str, list[tuple[str, list[dict[str, Any]], list[tuple[int, float]]]]] = {}
    for r in coll.results:
        log = scalar_log(r.path.parent)
        monitor = knn_monitor_log(r.path.parent, r.record) if r.kind == "pretrain" else []
        if log or monitor:
            # a partial sweep has one run per k (its folder k<k>/): label which line is which
            label = f"{r.backbone} {r.path.parent.name}" if r.kind == "partial" else r.backbone
            runs.setdefault(r.kind, []).append((label, log, monitor))
    if not runs:
        return None
    plt = _plt()
    n = len(runs)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, (kind, lines) in zip(axes.flat, runs.items()):
        handles = []
        for label, log, _ in lines:
            handles += ax.plot([p["step"] for p in log], [p["loss"] for p in log], label=label, lw=1.2)
        monitored = [(label, m) for label, _, m in lines if m]
        if monitored:  # another unit: its own axis, dashed
            right = ax.twinx()
            for i, (label, m) in enumerate(monitored):
                handles += right.plot(
                    [s for s, _ in m],
                    [v for _, v in m],
                    ls="--",
                    marker="o",
                    ms=3,
                    lw=1.0,
                    color=f"C{len(lines) + i}",
                    label=f"{label} kNN top-1",
                )
            right.set_ylabel("kNN monitor top-1 (%)", fontsize=8)
            right.tick_params(labelsize=7)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel("training loss", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(handles=handles, fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return _save(fig, out)


def _yerr(value: float, ci: tuple[float, float] | None) -> tuple[float, float]:
    return (value - ci[0], ci[1] - value) if ci else (0.0, 0.0)


def partial_curve(tables: list[Table], out: Path) -> Path | None:
    """Fig. 9 from the report's partial table, one line per backbone (drawn by the sweep's own `plot_curve`)."""
    table = next((t for t in tables if t.spec.key == "partial"), None)
    curves = {}
    for row in table.rows if table else []:
        points = {
            c.part: (cell.value, cell.interval)
            for c, cell in zip(table.columns, row.cells)
            if c.part is not None and cell.value is not None
        }
        if points:
            curves[row.label] = points
    if not curves:
        return None
    from classification.partial import plot_curve

    return plot_curve(curves, out)


def gains_plot(tables: list[Table], out: Path) -> Path | None:
    """Every computed gain over the baseline with its paired 95% interval (a dashed line at 0)."""
    items = [
        (f"{t.spec.key} {col.title}: {label}", g)
        for t in tables
        for label, gains in t.gains
        for col, g in zip(t.columns, gains)
        if isinstance(g.value, float)
    ]
    if not items:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 0.3 * len(items) + 1.2))
    ys = list(range(len(items)))[::-1]
    err = [_yerr(g.value, g.interval) for _, g in items]
    ax.errorbar([g.value for _, g in items], ys, xerr=list(zip(*err)), fmt="o", capsize=3)
    ax.axvline(0.0, ls="--", lw=0.8, color="gray")
    ax.set_yticks(ys)
    ax.set_yticklabels([name + ("" if g.significant is not False else " (n.s.)") for name, g in items], fontsize=7)
    ax.set_xlabel("gain over the baseline (points), paired 95% interval", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return _save(fig, out)


def robustness_bars(coll: Collection, out: Path) -> Path | None:
    """IN-C's corruption error per corruption (`in_c_ce`, AlexNet-normalised, in the producer's order)."""
    found = [
        (r.backbone, ce)
        for r in coll.results
        if r.kind == "robustness" and isinstance(ce := r.metrics.get(keys.IN_C_CE), dict) and ce
    ]
    if not found:
        return None
    plt = _plt()
    names = list(dict.fromkeys(n for _, ce in found for n in ce))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) * len(found) + 2), 3.2))
    width = 0.8 / len(found)
    for i, (label, ce) in enumerate(found):
        ax.bar([j + i * width for j in range(len(names))], [ce.get(n, 0.0) for n in names], width, label=label)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
    ax.set_xticklabels([n.replace("_", " ") for n in names], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("corruption error (AlexNet = 100)", fontsize=8)
    ax.set_title("robustness per corruption (IN-C); no intervals: IN-C saves no per-image outcomes", fontsize=8)
    ax.legend(fontsize=8)
    return _save(fig, out)


def reconstructions(coll: Collection, out_dir: Path, num_images: int = 4) -> dict[str, Path]:
    """Masked / reconstruction / original triplets of each pre-trained model that kept its decoder."""
    from mae_backbone.images import list_images
    from tools.visualize import visualize

    coco_roots = [Path(c) for _, s in coll.suites if (c := ((s.get("protocol") or {}).get("data") or {}).get("coco"))]
    figures: dict[str, Path] = {}
    for r in coll.results:
        ckpt = r.path.parent / "mae_full.safetensors"
        if r.kind != "pretrain" or not ckpt.is_file():
            continue
        sources = {"pre-training images": Path(((r.record.get("protocol") or {}).get("dataset") or {}).get("root", ""))}
        if coco_roots:  # the last suite's COCO images
            sources["COCO-style val images"] = coco_roots[-1] / "val2017"
        for title, folder in sources.items():
            if not folder.is_dir():
                continue
            images = list_images(folder)[:num_images]
            if images:
                name = "reconstructions_" + ("coco" if "COCO" in title else "pretrain") + ".png"
                figures[f"MAE reconstructions, {title}"] = visualize(ckpt, images, out_dir / name)
    return figures


def _save(fig, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    _plt().close(fig)
    return out


def all_figures(
    coll: Collection, tables: list[Table], out_dir: Path, visualize: bool = True, num_images: int = 4
) -> dict[str, Path]:
    figures: dict[str, Path] = {}
    for title, path in (
        ("training curves", training_curves(coll, out_dir / "training_curves.png")),
        ("partial fine-tuning", partial_curve(tables, out_dir / "partial_finetune.png")),
        ("gains over the baseline", gains_plot(tables, out_dir / "gains.png")),
        ("robustness per corruption", robustness_bars(coll, out_dir / "robustness_corruptions.png")),
    ):
        if path:
            figures[title] = path
    if visualize:
        figures.update(reconstructions(coll, out_dir, num_images))
    return figures
