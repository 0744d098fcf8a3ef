"""`maebench pretrain`: MAE pre-training from a config, exporting the encoder as a backbone checkpoint.

The pre-training itself is `mae_backbone.pretrain.run`; this command adds what needs a task's labelled data,
the kNN monitor (`monitor.knn` in the config, classification/knn_monitor.py), so that mae_backbone imports no task.
"""

from __future__ import annotations

from typing import Any

from mae_backbone.pretrain import CONFIG_DIR
from mae_backbone.runtime.task import Task, data_flag


def run(cfg: dict[str, Any], lr_scale: float | None = None) -> dict[str, Any]:
    from classification import knn_monitor
    from mae_backbone.pretrain.run import run as pretrain

    return pretrain(cfg, lr_scale, monitor=knn_monitor.from_config(cfg))


TASK = Task(
    name="pretrain",
    default_config=str(CONFIG_DIR / "mae_demo.py"),
    config_keys="mae_backbone.pretrain.run:CONFIG_KEYS",
    run="tools.pretrain:run",
    flags=(data_flag("folder of images (flat or ImageFolder)"),),
    data_hint="IMAGE_FOLDER",
)
add_arguments, main = TASK.add_arguments, TASK.main
