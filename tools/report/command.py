"""`maebench report WORKDIR...`: gather every metrics.json below the work dirs into report.md / report.csv + PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "work_dirs",
        nargs="*",
        default=["work_dirs/suite"],
        help="work dirs to scan recursively for metrics.json (default: work_dirs/suite)",
    )
    parser.add_argument("--out", default=None, help="output folder (default: <first work dir>/report)")
    parser.add_argument(
        "--no-reconstructions",
        action="store_true",
        help="skip the reconstruction figures (they run the pre-trained model on a few images)",
    )
    parser.add_argument("--num-images", type=int, default=4, help="images per reconstruction figure")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="B",
        help="bootstrap replicates per cell for top-1 / mIoU intervals (default 1000; 0: none)",
    )
    parser.add_argument(
        "--coco-bootstrap",
        type=int,
        default=200,
        metavar="B",
        help="bootstrap replicates per COCO AP cell, each a COCO accumulate (default 200; 0: none)",
    )
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap's draws (default 0)")


def main(args: argparse.Namespace) -> int:
    from . import build_report

    out = Path(args.out) if args.out else Path(args.work_dirs[0]) / "report"
    written = build_report(
        args.work_dirs,
        out,
        visualize=not args.no_reconstructions,
        num_images=args.num_images,
        bootstrap=args.bootstrap,
        coco_bootstrap=args.coco_bootstrap,
        bootstrap_seed=args.bootstrap_seed,
    )
    coll = written["collection"]
    print(
        f"{len(coll.results)} results from {len(args.work_dirs)} work dir(s) -> {written['markdown']}, "
        f"{written['csv']}, {len(written['figures'])} figure(s)"
    )
    for problem in coll.problems:
        print(f"warning: {problem}")
    return 0
