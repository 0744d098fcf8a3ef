"""`maebench finetune`: end-to-end fine-tuning (paper Table 9) of a pre-trained ViT on a labelled set."""
from __future__ import annotations

import argparse

from . import add_training_arguments, run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, "finetune")


def main(args: argparse.Namespace) -> int:
    return run_command(args, "finetune", main)
