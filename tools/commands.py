"""The `maebench` subcommands: name -> (module, one-line help). A literal dict: the only registry of commands.

A task's module (pretrain, finetune, linprobe, partial, robustness, detect, segment) holds its `TASK`
(mae_backbone.runtime.task.Task), which both its command line and the suite use; every module provides
`add_arguments(parser)` and `main(args) -> int`. This module imports nothing, so that the CLI and the suite
can both read it.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> (module, one-line help). A literal dict: the only registry of commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("tools.doctor", "check the install: versions, compiled ops, known traps"),
    "demo-data": ("tools.demo_world.command", "write the embedded synthetic demo world to a folder"),
    "pretrain": ("tools.pretrain", "MAE pre-training; exports the encoder as a backbone"),
    "convert": ("tools.convert", "official MAE / timm / mmpretrain checkpoints -> maebench safetensors"),
    "visualize": ("tools.visualize", "masked / reconstruction / original triplets as a PNG"),
    "suite": ("tools.suite.command", "pre-train, every transfer protocol for MAE and scratch, then the report"),
    "report": ("tools.report.command", "paper-style tables (Markdown, CSV) and plots from metrics.json files"),
    "finetune": ("classification.commands.finetune", "end-to-end fine-tuning of a pre-trained ViT (classification)"),
    "linprobe": ("classification.commands.linprobe", "linear probe of a frozen pre-trained ViT (classification)"),
    "partial": ("classification.commands.partial", "partial fine-tuning of the last k blocks; --blocks sweeps k"),
    "knn": ("classification.commands.knn", "training-free weighted kNN of frozen features (DINO's protocol)"),
    "robustness": ("classification.commands.robustness", "ImageNet-A/-R/-Sketch/-C evaluation of a classifier"),
    "detect": ("detection.command", "COCO Mask R-CNN transfer (ViT pyramid + FPN, box and mask AP)"),
    "segment": ("segmentation.command", "ADE20K UperNet transfer (relative position bias, slide test)"),
}
TASKS = ("pretrain", "finetune", "linprobe", "partial", "knn", "robustness", "detect", "segment")


def load_task(name: str) -> Any:
    """The Task of a `maebench` subcommand (its module is imported now: a missing one is an ImportError)."""
    return importlib.import_module(COMMANDS[name][0]).TASK
