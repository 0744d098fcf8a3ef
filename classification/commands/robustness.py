"""`maebench robustness CHECKPOINT --data ROOT`: ImageNet-A/-R/-Sketch/-C evaluation, no training (appendix C)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

SETS = ("a", "r", "sketch", "c")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a fine-tuned classifier (maebench classifier.safetensors or official .pth)")
    parser.add_argument("--data", default=None,
                        help="folder holding a/ r/ sketch/ c/ (the demo world's robustness/); per-set flags override")
    for key, name in (("a", "imagenet-a"), ("r", "imagenet-r"), ("sketch", "imagenet-sketch"), ("c", "imagenet-c")):
        parser.add_argument(f"--{name}", dest=f"root_{key}", default=None, help=f"root of {name} (<wnid>/ folders"
                            + (", <corruption>/<severity>/<wnid>/ for C)" if key == "c" else ")"))
    parser.add_argument("--sets", default="a,r,sketch,c", help="which sets to run (default: all found)")
    parser.add_argument("--index-dir", default=None,
                        help="folder with imagenet_{a,r}_indices.txt for non-ImageNet classifiers (default: --data)")
    parser.add_argument("--arch", default=None, help="architecture, for checkpoints without a maebench sidecar")
    parser.add_argument("--img-size", type=int, default=None, help="input size (default: the checkpoint's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--work-dir", default=None, help="where metrics.json and the Table 13 markdown go")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")


def main(args: argparse.Namespace) -> int:
    from mae_backbone.errors import ConfigError

    from ..robustness import evaluate_all_and_record

    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SETS]
    if unknown:
        raise ConfigError(f"--sets: unknown {', '.join(unknown)}; choose from {', '.join(SETS)}")
    sets = {}
    for key in wanted:
        root = getattr(args, f"root_{key}") or (Path(args.data) / key if args.data else None)
        if root is not None and Path(root).is_dir():
            sets[key] = Path(root)
        elif getattr(args, f"root_{key}") or args.sets != "a,r,sketch,c":
            raise ConfigError(f"{root}: no such folder for set {key!r}")
    if not sets:
        raise ConfigError("no robustness set found: pass --data ROOT (with a/ r/ sketch/ c/) or per-set folders")
    if args.launcher != "none":
        from mae_backbone.runtime.slurm import inside_slurm_job
        from mmengine.dist import init_dist

        init_dist("slurm" if inside_slurm_job() else "pytorch", backend="gloo" if not _cuda() else "nccl")
    work_dir = Path(args.work_dir or Path("work_dirs") / f"robustness_{Path(args.checkpoint).stem}")
    index_dir = Path(args.index_dir) if args.index_dir else (Path(args.data) if args.data else None)
    metrics = evaluate_all_and_record(args.checkpoint, sets, work_dir, index_dir, args.arch, args.img_size,
                                      args.batch_size, args.num_workers)
    print(json.dumps({"work_dir": str(work_dir), **metrics}, indent=2))
    return 0


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
