"""`maebench segment`: ADE20K UperNet transfer of a (MAE pre-trained) ViT backbone.

    maebench segment --data DEMO/ade/ADEChallengeData2016 --pretrained work_dirs/pretrain/backbone.safetensors
    maebench segment segmentation/configs/upernet_mae_vit_base_512_160k.py --data data/ade/ADEChallengeData2016 \\
        --pretrained mae_pretrain_vit_base.pth --launcher pytorch
"""

from __future__ import annotations

from mae_backbone.runtime.task import dense_task

TASK = dense_task(
    "segment",
    "segmentation",
    "upernet_mae_vit_demo.py",
    "the ADEChallengeData2016 folder",
    "ADEChallengeData2016_FOLDER",
    hide=("per_class_IoU",),
)
add_arguments, main = TASK.add_arguments, TASK.main
