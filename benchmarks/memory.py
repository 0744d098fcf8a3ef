"""Peak memory of a pre-training step per batch size (issue 9, benchmark 5).

Each batch size runs in a fresh process (peak RSS is per process); on a GPU the peak allocated CUDA
memory is reported too. Example: python benchmarks/memory.py --arch vit_base_patch16 --batches 8 16 32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, torch
sys.path.insert(0, {root!r})
from benchmarks.pretrain_speed import time_steps
from mae_backbone import create_mae
from mae_backbone.runtime.cpu import keep_freed_memory
if {keep_heap!r}:
    keep_freed_memory()
dev = "cuda" if torch.cuda.is_available() else "cpu"
model = create_mae({arch!r}, img_size={img})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
time_steps(model, {batch}, {img}, 1, {precision!r}, warmup=1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(peak_rss_mib=peak / 1024, model_rss_mib=base / 1024)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="vit_base_patch16")
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument(
        "--malloc",
        default="maebench",
        choices=["maebench", "glibc"],
        help="maebench: the heap is kept between steps, as the maebench command runs (runtime/cpu.py)",
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "memory.json"))
    args = ap.parse_args()
    root = str(Path(__file__).resolve().parents[1])
    if args.precision == "auto":
        sys.path.insert(0, root)
        from mae_backbone.runtime.cpu import cpu_has_fast_bf16

        args.precision = "bf16" if cpu_has_fast_bf16() else "fp32"
    rows = []
    for batch in args.batches:
        code = CHILD.format(
            root=root,
            arch=args.arch,
            img=args.img_size,
            batch=batch,
            precision=args.precision,
            keep_heap=args.malloc == "maebench",
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        row = dict(batch=batch, **json.loads(out.stdout.strip().splitlines()[-1]))
        rows.append(row)
        print(
            f"{args.arch} {args.img_size}px batch {batch} ({args.precision}, malloc {args.malloc}): "
            f"peak RSS {row['peak_rss_mib']:.0f} MiB "
            f"(after building the model: {row['model_rss_mib']:.0f} MiB)"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(dict(arch=args.arch, precision=args.precision, malloc=args.malloc, rows=rows), indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
