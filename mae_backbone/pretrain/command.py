"""`maebench pretrain`: MAE pre-training from a config, exporting the encoder as a backbone checkpoint."""
from __future__ import annotations

from pathlib import Path

from ..runtime.task import Task, data_flag

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "pretrain"

TASK = Task(
    name="pretrain",
    default_config=str(CONFIG_DIR / "mae_demo.py"),
    config_keys="mae_backbone.pretrain.run:CONFIG_KEYS",
    run="mae_backbone.pretrain.run:run",
    flags=(data_flag("folder of images (flat or ImageFolder)"),),
    data_hint="IMAGE_FOLDER",
)
add_arguments, main = TASK.add_arguments, TASK.main
