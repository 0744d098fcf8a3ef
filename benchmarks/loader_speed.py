"""Pre-training data loading vs model speed, side by side (issue 9, benchmark 3).

Decoded + augmented images/s of the pre-training loader (RandomResizedCrop + flip on JPEGs) for 0..N
workers, next to the training step's images/s for the same config: the loader must not be the
bottleneck. Default: the demo config (vit_mini_patch16, 128 px, batch 32) on the small demo world.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.pretrain_speed import time_steps  # noqa: E402
from mae_backbone import create_mae  # noqa: E402
from mae_backbone.pretrain.data import UnlabeledImages  # noqa: E402
from mae_backbone.runtime.cpu import cpu_has_fast_bf16  # noqa: E402


def loader_rate(dataset, batch: int, workers: int, batches: int) -> float:
    loader = DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True, persistent_workers=False
    )
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            n += next(it)["inputs"].shape[0]
        except StopIteration:
            break
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=None, help="image folder (default: the small demo world's pretrain/)")
    ap.add_argument("--arch", default="vit_mini_patch16")
    ap.add_argument("--img-size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "loader_speed.json"))
    args = ap.parse_args()
    if args.data is None:
        from tools.demo_world import generate_cached

        args.data = generate_cached(Path(tempfile.gettempdir()) / "maebench_bench_world", size="small")["pretrain"]
    dataset = UnlabeledImages(args.data, args.img_size)
    rows = {f"loader_{w}_workers_img_s": loader_rate(dataset, args.batch, w, args.batches) for w in (0, 1, 2)}
    precision = "bf16" if cpu_has_fast_bf16() else "fp32"
    model = create_mae(args.arch, img_size=args.img_size)
    rows["model_step_img_s"] = args.batch / time_steps(model, args.batch, args.img_size, 3, precision)
    rows.update(
        arch=args.arch, img_size=args.img_size, batch=args.batch, precision=precision, threads=torch.get_num_threads()
    )
    for k, v in rows.items():
        print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")
    best = max(v for k, v in rows.items() if k.startswith("loader_"))
    print(f"loader / model = {best / rows['model_step_img_s']:.2f} (> 1: the loader keeps up)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
