# The paper's transfer section for ViT-B/16 (He et al. 2021, Tables 3-6 and 13, Fig. 9), as one suite.
# It needs a GPU cluster: `maebench suite tools/configs/suite/paper_vit_b.py --launcher slurm` on a login node
# submits every stage as its own Slurm job, sized by its recipe (processes = global batch / per-GPU batch: no
# gradient accumulation), with `afterok` dependencies, and returns; `maebench suite --status WORK_DIR` follows it.
# Every recipe is the task package's paper config, with its provenance and expected number in that file; the
# report prints the published number beside ours.
#
# Backbones: MAE pre-trained here (1600 epochs, as in Table 3), the official released MAE ViT-B
# (`maebench convert mae_pretrain_vit_base.pth --out checkpoints/mae_pretrain_vit_base.safetensors`),
# and the from-scratch baseline (same architecture, random init, same transfer schedule; note that the
# paper's own scratch baseline, 82.3, uses the longer supervised recipe of its Table 11).
# Dataset roots are the real releases in their standard layouts (edit them or override on the command
# line, e.g. data.imagenet=/datasets/imagenet).
work_dir = "work_dirs/suite_paper_vit_b"
seed = 0
data = dict(
    demo=None,
    pretrain="data/imagenet/train",  # IN-1K train images (labels unused)
    imagenet="data/imagenet",  # train/ val/ with WordNet-id folders
    coco="data/coco",  # annotations/instances_{train,val}2017.json + train2017/ val2017/
    ade="data/ade/ADEChallengeData2016",
    inat="data/inat2019",  # train2019.json / val2019.json + images
    places="data/places365",  # Places365-Standard file lists
    robustness="data/imagenet-robustness",  # a/ r/ sketch/ c/ (ImageNet-A, -R, -Sketch, -C release layouts)
)
pretrain = dict(config="mae_backbone/configs/pretrain/mae_vit_base_800ep.py",
                overrides=["schedule.epochs=1600"])
backbones = dict(
    mae=dict(source="pretrain"),
    mae_official=dict(source="checkpoint", path="checkpoints/mae_pretrain_vit_base.safetensors"),
    scratch=dict(source="scratch"),
)
protocols = dict(
    finetune=dict(config="classification/configs/finetune_vit_base.py"),  # official 5e-4 / 0.65: 83.6
    # low-shot ImageNet fine-tuning (1% / 10% of the labels; the published lists: data.subset_file=...)
    finetune_1pct=dict(config="classification/configs/finetune_vit_base.py"),
    finetune_10pct=dict(config="classification/configs/finetune_vit_base.py"),
    linprobe=dict(config="classification/configs/linprobe_vit_base.py"),  # 68.0
    knn=dict(config="classification/configs/knn_vit_base.py"),  # DINO's kNN (k 20, T 0.07); MAE publishes none
    # Fig. 9 is ViT-L (paper_vit_l.py); here its recipe with ViT-B's fine-tuning values; k = 0 is the linprobe
    partial=dict(config="classification/configs/partial_vit_base.py", flags=dict(blocks="mlp,1,2,4,6")),
    inat=dict(config="classification/configs/finetune_inat2019_vit_base.py"),  # 80.5
    places=dict(config="classification/configs/finetune_places365_vit_base.py"),  # 57.9
    detect=dict(config="detection/configs/mask_rcnn_mae_vit_base_1024_100ep.py"),  # 50.3 box / 44.9 mask
    segment=dict(config="segmentation/configs/upernet_mae_vit_base_512_160k.py"),  # 48.1 mIoU
    robustness=dict(overrides=["batch_size=256", "num_workers=8"]),  # IN-A 35.9, R 48.3, Sketch 34.5, C 51.7
)
report = dict(visualize=True, num_images=4)
# Slurm: every stage job's defaults (set partition/account/qos/constraint for your cluster). A job at its time
# limit, or preempted, requeues itself and resumes from its newest complete checkpoint.
slurm = dict(partition=None, account=None, qos=None, constraint=None, gpus_per_node=8, cpus_per_task=10, mem=None,
             time="72:00:00", retries=2, requeues=100, max_gpus=64)
# GPUs are derived from each recipe (global / per-GPU batch): pretrain 4096/64 = 64, finetune 1024/32 = 32,
# linprobe 16384/512 = 32, partial 1024/32 = 32, iNat / Places 1024/32 = 32, detect 64/2 = 32, segment 16/2 = 8,
# robustness and the report 1; kNN (no training batch) 8, set below. Set `gpus` here to change one (it must
# divide the global batch).
resources = dict(
    finetune=dict(time="48:00:00"), linprobe=dict(time="24:00:00"), detect=dict(time="72:00:00"),
    segment=dict(time="48:00:00"), robustness=dict(time="04:00:00", cpus_per_task=16),
    knn=dict(gpus=8, time="04:00:00"),
    report=dict(gpus=1, time="01:00:00"),
)
