"""`maebench robustness CHECKPOINT --data ROOT`: ImageNet-A/-R/-Sketch/-C evaluation, no training (appendix C)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.task import COMMON, Flag, Task

from . import CONFIG_DIR

SETS = ("a", "r", "sketch", "c")
CONFIG_KEYS = (
    "checkpoint",
    "data",
    "sets",
    "arch",
    "img_size",
    "interpolation",
    "c_upsample",
    "batch_size",
    "num_workers",
    "work_dir",
    "launcher",
)
RELEASES = {"a": "imagenet-a", "r": "imagenet-r", "sketch": "imagenet-sketch", "c": "imagenet-c"}


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every set asked for (or found), write metrics.json and the Table 13 markdown."""
    from ..robustness import evaluate_all_and_record

    data = cfg["data"]
    wanted = [s.strip() for s in (cfg.get("sets") or ",".join(SETS)).split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SETS]
    if unknown:
        raise ConfigError(f"sets: unknown {', '.join(unknown)}; choose from {', '.join(SETS)}")
    sets = {}
    for key in wanted:
        root = data.get(key) or (Path(data["root"]) / key if data.get("root") else None)
        if root is not None and Path(root).is_dir():
            sets[key] = Path(root)
        elif data.get(key) or cfg.get("sets"):
            raise ConfigError(f"{root}: no such folder for set {key!r}")
    if not sets:
        raise ConfigError("no robustness set found: pass --data ROOT (with a/ r/ sketch/ c/) or per-set folders")
    if cfg.get("launcher", "none") != "none":
        import torch
        from mmengine.dist import init_dist

        from mae_backbone.runtime.slurm import inside_slurm_job

        init_dist("slurm" if inside_slurm_job() else "pytorch", backend="nccl" if torch.cuda.is_available() else "gloo")
    index_dir = data.get("index_dir") or data.get("root")
    index_dir = Path(index_dir) if index_dir else None
    return evaluate_all_and_record(
        cfg["checkpoint"],
        sets,
        Path(cfg["work_dir"]),
        index_dir,
        cfg.get("arch"),
        cfg.get("img_size"),
        cfg["batch_size"],
        cfg["num_workers"],
        interpolation=cfg["interpolation"],
        c_upsample=cfg["c_upsample"],
    )


def _upsample(text: str) -> str | None:
    if text not in ("bicubic", "bilinear", "None"):
        raise ValueError(text)  # argparse: "invalid _upsample value"
    return None if text == "None" else text


def _finish(cfg: Any, config: str) -> None:
    if not cfg.get("checkpoint"):
        raise ConfigError("robustness: give the fine-tuned classifier to evaluate (CHECKPOINT)")
    cfg.work_dir = cfg.get("work_dir") or str(Path("work_dirs") / f"robustness_{Path(cfg.checkpoint).stem}")


TASK = Task(
    name="robustness",
    default_config=str(CONFIG_DIR / "robustness.py"),
    config_keys="classification.commands.robustness:CONFIG_KEYS",
    run="classification.commands.robustness:run",
    flags=(
        Flag(
            "checkpoint",
            "checkpoint",
            "a fine-tuned classifier (maebench classifier.safetensors or official .pth)",
            positional=True,
            metavar="CHECKPOINT",
        ),
        Flag(
            "data",
            "data.root",
            "folder holding a/ r/ sketch/ c/ (the demo world's robustness/); per-set flags override",
        ),
        *(
            Flag(
                name,
                f"data.{key}",
                f"root of {name} (<wnid>/ folders"
                + (", <corruption>/<severity>/<wnid>/ for C)" if key == "c" else ")"),
            )
            for key, name in RELEASES.items()
        ),
        Flag("sets", "sets", "which sets to run, e.g. a,r (default: all found)"),
        Flag(
            "index-dir",
            "data.index_dir",
            "folder with imagenet_{a,r}_indices.txt for non-ImageNet classifiers (default: --data)",
        ),
        Flag("arch", "arch", "architecture, for checkpoints without a maebench sidecar"),
        Flag("img-size", "img_size", "input size (default: the checkpoint's)", type=int),
        Flag(
            "interpolation",
            "interpolation",
            "A/R/Sketch resize: bicubic (MAE's evaluation, default) or bilinear (hendrycks' eval.py)",
            choices=("bicubic", "bilinear"),
        ),
        Flag(
            "c-upsample",
            "c_upsample",
            "IN-C images smaller than the input (e.g. --img-size 448): bicubic "
            "(default) or bilinear upsampling; None refuses",
            type=_upsample,
        ),
        Flag("batch-size", "batch_size", "images per batch (default 64)", type=int),
        Flag("num-workers", "num_workers", "data-loader workers (default 2)", type=int),
    ),
    finish=_finish,
    common=tuple(f for f in COMMON if f.name in ("work-dir", "launcher")),
    config_positional=False,
)
add_arguments, main = TASK.add_arguments, TASK.main
