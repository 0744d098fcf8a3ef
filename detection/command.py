"""`maebench detect`: COCO Mask R-CNN transfer of a (MAE pre-trained) ViT backbone.

    maebench detect --data DEMO/coco --pretrained work_dirs/pretrain/backbone.safetensors
    maebench detect detection/configs/mask_rcnn_mae_vit_base_1024_100ep.py --data data/coco \\
        --pretrained mae_pretrain_vit_base.pth --launcher pytorch
    maebench detect --data DEMO/coco --eval-only --resume work_dirs/detect_x/iter_300.pth --evaluator reference
"""

from __future__ import annotations

from mae_backbone.runtime.task import Flag, dense_task

TASK = dense_task(
    "detect",
    "detection",
    "mask_rcnn_mae_vit_demo.py",
    "the COCO folder (annotations/instances_<split>.json + <split>/ images)",
    "COCO_FOLDER",
    flags=(
        Flag(
            "protocol",
            "protocol",
            "benchmarking: MAE paper A.3, four block groups -> pyramid -> FPN (default); "
            "vitdet: simple pyramid from the last block. Sets protocol",
            choices=("benchmarking", "vitdet"),
        ),
        Flag(
            "evaluator",
            "test.evaluator",
            "COCO evaluation with faster-coco-eval (fast, default; identical stats) "
            "or pycocotools (reference); sets test.evaluator",
            choices=("fast", "reference"),
        ),
        Flag(
            "skip-bad",
            "data.skip_bad",
            "drop bad annotations and images whose file is missing instead of "
            "stopping; the counts are printed and stored in metrics.json",
            switch=True,
        ),
    ),
)
add_arguments, main = TASK.add_arguments, TASK.main
