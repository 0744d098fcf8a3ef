"""The `maebench` command: one subcommand per job.

Each subcommand lives in its own module, imported only when it runs (so `maebench --help` is instant
and a broken optional stack cannot stop `maebench doctor`). A module provides
`add_arguments(parser)` and `main(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tools.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maebench", description="Downstream-transfer benchmark suite for MAE pre-trained ViTs."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
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
