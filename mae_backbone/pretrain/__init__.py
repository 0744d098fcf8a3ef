"""MAE pre-training on the mmengine engine: `run.run(cfg) -> metrics` (the `maebench pretrain` command is
tools/pretrain.py) and its recipes in mae_backbone/configs/pretrain/."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "pretrain"
