"""`maebench linprobe`: linear probe (paper Table 10) of a frozen pre-trained ViT."""
from __future__ import annotations

import argparse

from . import add_training_arguments, run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, "linprobe")


def main(args: argparse.Namespace) -> int:
    return run_command(args, "linprobe", main)
