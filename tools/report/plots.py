"""PNG figures: training curves, the partial fine-tuning curve (Fig. 9), per-corruption robustness bars,
and reconstruction triplets of the pre-trained model (Figs. 2-3) on demo and COCO-style images.

Training curves come from mmengine's scalar logs (`<run>/<timestamp>/vis_data/scalars.json`) beside
each metrics.json; everything else from the metrics.json records.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .collect import Collection
from .tables import partial_points, partial_results

# ImageNet-C's 15 benchmark corruptions (anchors.md 4.3), in the usual order
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scalar_log(run_dir: Path) -> list[dict[str, Any]]:
    """Training scalars of a run, in step order, across resumed sessions (one timestamped folder each)."""
    rows: dict[int, dict[str, Any]] = {}
    for f in sorted(run_dir.glob("*/vis_data/scalars.json")):
        for line in f.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of an interrupted run
            if "loss" in row and "step" in row:
                rows[int(row["step"])] = row
    return [rows[k] for k in sorted(rows)]


def training_curves(coll: Collection, out: Path) -> Path | None:
    runs: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for r in coll.results:
        log = scalar_log(r.path.parent)
        if log:
            # a partial sweep has one run per k (its folder k<k>/): label which line is which
            label = f"{r.backbone} {r.path.parent.name}" if r.kind == "partial" else r.backbone
            runs.setdefault(r.kind, []).append((label, log))
    if not runs:
        return None
    plt = _plt()
    n = len(runs)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, (kind, lines) in zip(axes.flat, runs.items()):
        for label, log in lines:
            ax.plot([p["step"] for p in log], [p["loss"] for p in log], label=label, lw=1.2)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel("training loss", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return _save(fig, out)


def partial_curve(coll: Collection, out: Path) -> Path | None:
    by_backbone: dict[str, list] = {}
    for r in partial_results(coll).results:
        by_backbone.setdefault(r.backbone, []).append(r)
    curves = [(b, p) for b, rs in by_backbone.items() if (p := partial_points(rs))]
    if not curves:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for label, points in curves:
        xs = [0.5 if k == "mlp" else float(k) for k in points]
        ax.plot(xs, list(points.values()), marker="o", label=label)
    ax.set_xlabel("fine-tuned last blocks (0 = linear probe, 0.5 = last MLP)", fontsize=8)
    ax.set_ylabel("top-1 (%)", fontsize=8)
    ax.set_title("partial fine-tuning (paper Fig. 9)", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, out)


def per_corruption(metrics: dict[str, Any], path: str = "") -> tuple[str, dict[str, float]] | None:
    """The first nested dict keyed by corruption names with numeric values (errors or CEs), and where it was."""
    if isinstance(metrics, dict):
        keys = [k for k in metrics if k in CORRUPTIONS]
        if keys and all(isinstance(metrics[k], (int, float)) for k in keys):
            return path or "per corruption", {k: float(metrics[k]) for k in CORRUPTIONS if k in metrics}
        for k, v in metrics.items():
            found = per_corruption(v, f"{path}.{k}" if path else k)
            if found:
                return found
    return None


def robustness_bars(coll: Collection, out: Path) -> Path | None:
    found = [(r.backbone, per_corruption(r.metrics)) for r in coll.results if r.kind == "robustness"]
    found = [(b, f) for b, f in found if f]
    if not found:
        return None
    plt = _plt()
    names = [c for c in CORRUPTIONS if any(c in f[1] for _, f in found)]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) * len(found) + 2), 3.2))
    width = 0.8 / len(found)
    for i, (label, (what, values)) in enumerate(found):
        ax.bar([j + i * width for j in range(len(names))], [values.get(n, 0.0) for n in names], width, label=label)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
    ax.set_xticklabels([n.replace("_", " ") for n in names], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(found[0][1][0].split(".")[-1], fontsize=8)
    ax.set_title("robustness per corruption (IN-C style)", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, out)


def reconstructions(coll: Collection, out_dir: Path, num_images: int = 4) -> dict[str, Path]:
    """Masked / reconstruction / original triplets of each pre-trained model that kept its decoder."""
    from mae_backbone.pretrain.data import list_images
    from tools.visualize import visualize

    coco_roots = [Path(c) for _, s in coll.suites if (c := ((s.get("protocol") or {}).get("data") or {}).get("coco"))]
    figures: dict[str, Path] = {}
    for r in coll.results:
        ckpt = r.path.parent / "mae_full.safetensors"
        if r.kind != "pretrain" or not ckpt.is_file():
            continue
        sources = {"pre-training images": Path(((r.record.get("protocol") or {}).get("dataset") or {}).get("root", ""))}
        sources.update({"COCO-style val images": root / "val2017" for root in coco_roots})
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


def all_figures(coll: Collection, out_dir: Path, visualize: bool = True, num_images: int = 4) -> dict[str, Path]:
    figures: dict[str, Path] = {}
    for title, fn, name in (("training curves", training_curves, "training_curves.png"),
                            ("partial fine-tuning", partial_curve, "partial_finetune.png"),
                            ("robustness per corruption", robustness_bars, "robustness_corruptions.png")):
        path = fn(coll, out_dir / name)
        if path:
            figures[title] = path
    if visualize:
        figures.update(reconstructions(coll, out_dir, num_images))
    return figures

