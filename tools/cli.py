"""The `maebench` command: one subcommand per job.

Each subcommand lives in its own module, imported only when it runs (so `maebench --help` is instant
and a broken optional stack cannot stop `maebench doctor`). A module provides
`add_arguments(parser)` and `main(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). A literal dict: the only registry of commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("tools.doctor", "check the install: versions, compiled ops, known traps"),
    "demo-data": ("tools.demo_world.command", "write the embedded synthetic demo world to a folder"),
    "pretrain": ("mae_backbone.pretrain.command", "MAE pre-training; exports the encoder as a backbone"),
    "convert": ("tools.convert", "official MAE / timm / mmpretrain checkpoints -> maebench safetensors"),
    "visualize": ("tools.visualize", "masked / reconstruction / original triplets as a PNG"),
    "suite": ("tools.suite.command", "pre-train, every transfer protocol for MAE and scratch, then the report"),
    "report": ("tools.report.command", "paper-style tables (Markdown, CSV) and plots from metrics.json files"),
    "finetune": ("classification.commands.finetune", "end-to-end fine-tuning of a pre-trained ViT (classification)"),
    "linprobe": ("classification.commands.linprobe", "linear probe of a frozen pre-trained ViT (classification)"),
    "partial": ("classification.commands.partial", "partial fine-tuning of the last k blocks; --blocks sweeps k"),
    "robustness": ("classification.commands.robustness", "ImageNet-A/-R/-Sketch/-C evaluation of a classifier"),
    "detect": ("detection.command", "COCO Mask R-CNN transfer (ViT pyramid + FPN, box and mask AP)"),
    "segment": ("segmentation.command", "ADE20K UperNet transfer (relative position bias, slide test)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maebench", description="Downstream-transfer benchmark suite for MAE pre-trained ViTs."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_help()
            print(f"\nmaebench: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name, rest = argv[0], argv[1:]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    sub = argparse.ArgumentParser(prog=f"maebench {name}", description=help_text)
    module.add_arguments(sub)
    args = sub.parse_intermixed_args(rest)  # `maebench suite CFG --work-dir X key=value`: options anywhere
    keep_freed_memory()  # large CPU tensors reuse the heap instead of page-faulting every step (runtime/cpu.py)
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("maebench: interrupted", file=sys.stderr)
        return 130
    except UserFacingError as err:  # a clear, expected failure: one message, no traceback wall
        print(f"maebench {name}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        if not is_interrupt(err):  # a Ctrl-C that a library re-raised as another error (errors.is_interrupt)
            raise
        print("maebench: interrupted", file=sys.stderr)
        return 130


from mae_backbone.errors import UserFacingError, is_interrupt  # noqa: E402  (tiny modules, no heavy imports)
from mae_backbone.runtime.cpu import keep_freed_memory  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
