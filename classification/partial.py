"""The partial fine-tuning sweep (paper 4.3, Fig. 9): one run per k, then the accuracy-vs-k curve.

Each k runs in its own sub-work-dir (`k0`, `k1`, ..., `kmlp`) and is resumable: a k whose
`metrics.json` exists is finished and skipped, an interrupted one resumes from its newest complete
checkpoint. k = 0 is the linear probe, so it runs the linear-probe recipe named by the config's
`linprobe_config` (taking over the dataset, architecture, input size, checkpoint and seed).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.fileio import atomic_write, atomic_write_json, atomic_write_text
from mae_backbone.runtime.records import METRICS_FILE

from .model import parse_partial

SHARED_WITH_K0 = ("arch", "pretrained", "seed", "launcher")


def parse_blocks(text: str, depth: int) -> list[int | str]:
    ks = [parse_partial(t.strip(), depth) for t in text.split(",") if t.strip()]
    if not ks:
        raise ConfigError(f"--blocks {text!r}: give a comma-separated list such as 0,1,2,4,mlp")
    return list(dict.fromkeys(ks))  # unique, in the given order


def sub_dir(work_dir: str | Path, k: int | str) -> Path:
    return Path(work_dir) / f"k{k}"


def k_config(cfg: dict[str, Any], k: int | str, load_linprobe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The config of one point of the sweep."""
    if k == 0:
        if not cfg.get("linprobe_config"):
            raise ConfigError("k=0 is the linear probe: the partial config needs linprobe_config = '<recipe>.py'")
        sub = load_linprobe(cfg["linprobe_config"])
        for key in SHARED_WITH_K0:
            sub[key] = copy.deepcopy(cfg[key])
        sub["data"].update(
            {
                k2: v
                for k2, v in cfg["data"].items()
                if k2 in ("format", "root", "year", "version", "image_dir", "eval_crop_pct")
            }
        )
        # input size and any architecture overrides; pooling and drop path stay the probe's own
        sub["model"].update({k2: v for k2, v in cfg["model"].items() if k2 not in ("global_pool", "drop_path_rate")})
    else:
        sub = copy.deepcopy(cfg)
        sub["partial_blocks"] = k
    sub["work_dir"] = str(sub_dir(cfg["work_dir"], k))
    sub["resume"] = "auto"
    sub["eval_only"] = False
    return sub


def run_sweep(
    cfg: dict[str, Any],
    blocks: list[int | str],
    load_linprobe: Callable[[str], dict[str, Any]],
    run: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for k in blocks:
        sub = k_config(cfg, k, load_linprobe)
        done = Path(sub["work_dir"]) / METRICS_FILE
        if done.is_file():
            print(f"partial k={k}: finished earlier ({done}), skipped")
            record = json.loads(done.read_text())
            results[str(k)] = record["metrics"]
            continue
        print(f"partial k={k}: running in {sub['work_dir']}")
        results[str(k)] = run(sub)
    summary = {
        "blocks": [str(k) for k in blocks],
        "top1": {k: v["top1"] for k, v in results.items()},
        "metrics": results,
    }
    work_dir = Path(cfg["work_dir"])
    atomic_write_json(work_dir / "partial_sweep.json", summary)
    atomic_write_text(
        work_dir / "partial_sweep.csv", "blocks,top1\n" + "".join(f"{k},{v['top1']:.4f}\n" for k, v in results.items())
    )
    plot_curve(
        {cfg["arch"]: {k: (v, None) for k, v in summary["top1"].items()}},
        work_dir / "partial_sweep.png",
        title=f"{cfg['arch']}: partial fine-tuning",
    )
    return summary


Point = tuple[float, "tuple[float, float] | None"]  # top-1 and its 95% interval (None: no interval)


def plot_curve(
    curves: dict[str, dict[str, Point]], path: Path, title: str = "partial fine-tuning (paper Fig. 9)"
) -> Path:
    """Top-1 vs number of fine-tuned last blocks (Fig. 9), one line per label ({k: (top1, interval)}, k a number
    of blocks or "mlp"), with 95% interval bars where given; the "MLP only" point is drawn at k = 0.5. The one
    drawing of Fig. 9: the sweep's `partial_sweep.png` and the report's figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for i, (label, points) in enumerate(curves.items()):
        color = f"C{i}"
        ks = sorted((int(k), p) for k, p in points.items() if k != "mlp")
        if ks:
            ax.errorbar(
                [k for k, _ in ks],
                [v for _, (v, _) in ks],
                yerr=_yerr([p for _, p in ks]),
                fmt="o-",
                capsize=3,
                color=color,
                label=f"{label}: last k blocks" if len(curves) > 1 else "last k blocks",
            )
            for k, (v, _) in ks:
                ax.annotate(f"{v:.1f}", (k, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        if "mlp" in points:
            v = points["mlp"][0]
            ax.errorbar(
                [0.5],
                [v],
                yerr=_yerr([points["mlp"]]),
                fmt="s",
                capsize=3,
                color=color,
                label=f"{label}: last block's MLP only" if len(curves) > 1 else "last block's MLP only",
            )
            ax.annotate(f"{v:.1f}", (0.5, v), textcoords="offset points", xytext=(0, -12), ha="center", fontsize=8)
    ax.set_xlabel("# blocks fine-tuned (0 = linear probe, 0.5 = last MLP)")
    ax.set_ylabel("top-1 accuracy (%), 95% interval")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return path


def _yerr(points: list[Point]) -> list[list[float]]:
    """matplotlib's (2, N) error bars below / above each value; 0 where a point has no interval."""
    return [[v - ci[0] if ci else 0.0 for v, ci in points], [ci[1] - v if ci else 0.0 for v, ci in points]]
