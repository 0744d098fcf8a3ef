"""`maebench demo-data`: write the embedded synthetic demo world to a folder."""
from __future__ import annotations

import argparse

from mae_backbone.errors import UserFacingError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_data", help="output folder (default: demo_data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=["tiny", "small"], default="small",
                        help="tiny: for unit tests (seconds); small: for the demo suite")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--difficulty", type=float, default=0.5, help="0 = easy .. 1 = hard")


def main(args: argparse.Namespace) -> int:
    from . import generate

    if not 0.0 <= args.difficulty <= 1.0:
        raise UserFacingError(f"--difficulty must be in [0, 1], got {args.difficulty}")
    info = generate(args.out, args.seed, args.size, args.image_size, args.difficulty, progress=True)
    print(f"wrote the {args.size} demo world to {info['root']} in {info['seconds']} s (see its README.md)")
    return 0
