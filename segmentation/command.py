"""`maebench segment`: ADE20K UperNet transfer of a (MAE pre-trained) ViT backbone.

    maebench segment --data DEMO/ade/ADEChallengeData2016 --pretrained work_dirs/pretrain/backbone.safetensors
    maebench segment segmentation/configs/upernet_mae_vit_base_512_160k.py --data data/ade/ADEChallengeData2016 \\
        --pretrained mae_pretrain_vit_base.pth --launcher pytorch
"""

from __future__ import annotations

from pathlib import Path

from mae_backbone.runtime.task import BACKBONE_FLAG, EVAL_ONLY, Task, data_flag, resolve_eval_weights

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

TASK = Task(
    name="segment",
    default_config=str(CONFIG_DIR / "upernet_mae_vit_demo.py"),
    config_keys="segmentation.run:CONFIG_KEYS",
    run="segmentation.run:run",
    flags=(
        data_flag("the ADEChallengeData2016 folder"),
        BACKBONE_FLAG,
        EVAL_ONLY,
    ),
    data_hint="ADEChallengeData2016_FOLDER",
    finish=resolve_eval_weights,
    hide=("per_class_IoU",),
    sweep_adapter="segmentation.sweep:ADAPTER",
)
add_arguments, main = TASK.add_arguments, TASK.main
