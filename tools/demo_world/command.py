"""`maebench demo-data`: write the embedded synthetic demo world to a folder, then validate it."""

from __future__ import annotations

import argparse

from mae_backbone.errors import UserFacingError

from . import DIFFICULTY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default="demo_data",
        help="output folder, new or empty, or holding an earlier demo world to replace (default: demo_data)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same bytes")
    parser.add_argument(
        "--size",
        choices=["tiny", "small"],
        default="small",
        help="tiny: for unit tests (seconds); small: for the demo suite (default)",
    )
    parser.add_argument("--image-size", type=int, default=128, help="square image side in pixels (>= 32)")
    parser.add_argument(
        "--difficulty",
        type=float,
        default=DIFFICULTY,
        help="0 = easy .. 1 = hard: distractors, occlusion, object position, textured fills, "
        f"noise (default {DIFFICULTY})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes for the ImageNet-C corruptions (default: 2 for small, 1 for tiny)",
    )
    parser.add_argument("--no-check", action="store_true", help="skip validating the written formats")


def main(args: argparse.Namespace) -> int:
    from dataformats import errors, format_problems

    from . import check_world, generate

    if not 0.0 <= args.difficulty <= 1.0:
        raise UserFacingError(f"--difficulty must be in [0, 1], got {args.difficulty}")
    if args.image_size < 32:
        raise UserFacingError(f"--image-size must be at least 32 (imagecorruptions' minimum), got {args.image_size}")
    info = generate(
        args.out, args.seed, args.size, args.image_size, args.difficulty, progress=True, workers=args.workers
    )
    print(
        f"wrote the {args.size} demo world ({info['files']} images) to {info['root']} in {info['seconds']} s "
        "(see its README.md)"
    )
    if not args.no_check:
        bad = errors(check_world(info["root"]))
        if bad:
            print(format_problems(bad, f"demo world {info['root']}"))
            return 1
        print("checked: every folder passes its format's validator")
    return 0
