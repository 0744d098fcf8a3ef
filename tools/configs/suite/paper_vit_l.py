# The paper's transfer section for ViT-L/16 (Tables 3-6 and 13; Fig. 9 is ViT-L). Same structure as
# paper_vit_b.py, with the ViT-L recipes of each task package. Needs a GPU cluster (--launcher slurm).
_base_ = "./paper_vit_b.py"
work_dir = "work_dirs/suite_paper_vit_l"
pretrain = dict(overrides=["arch='vit_large_patch16'", "schedule.epochs=1600"])
backbones = dict(
    mae_official=dict(path="checkpoints/mae_pretrain_vit_large.safetensors"),
)
protocols = dict(
    finetune=dict(config="classification/configs/finetune_vit_large.py"),  # 85.9
    finetune_1pct=dict(config="classification/configs/finetune_vit_large.py"),
    finetune_10pct=dict(config="classification/configs/finetune_vit_large.py"),
    linprobe=dict(config="classification/configs/linprobe_vit_large.py"),  # 75.8
    partial=dict(config="classification/configs/partial_vit_large.py", overrides=[],
                 flags=dict(blocks="0,mlp,1,2,4,6,12,18,24")),  # Fig. 9: 73.5 / 79.1 (MLP) / 81.0 (1 block)
    inat=dict(config="classification/configs/finetune_inat2019_vit_large.py"),  # 83.4
    places=dict(config="classification/configs/finetune_places365_vit_large.py"),  # 59.4
    detect=dict(config="detection/configs/mask_rcnn_mae_vit_large_1024_100ep.py"),  # 53.3 box / 47.2 mask
    segment=dict(config="segmentation/configs/upernet_mae_vit_large_512_160k.py"),  # 53.6 mIoU
)
