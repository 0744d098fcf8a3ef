# COCO Mask R-CNN on an MAE pre-trained ViT-B/16, protocol "benchmarking" (MAE paper A.3, Table 4: 50.3 box AP,
# 44.9 mask AP). The paper's recipe is Li et al. 2021 ("Benchmarking Detection Transfer Learning with ViT"),
# re-implemented by hustvl/MIMDet (configs/benchmarking/benchmarking_mask_rcnn_base_FPN_100ep_LSJ_mae.py),
# which reproduces it (100 ep 50.4 / 44.9; 50 ep 50.2 / 44.9; 25 ep 48.0 / 43.0; anchors.md 2.2):
# - the 12 blocks in four groups of 3; windowed attention (window 16 = a 4x4 grid of windows on the 64x64
#   token grid) except the last block of each group (2, 5, 8, 11), which is global and feeds the pyramid;
#   relative position bias zero-initialised (MAE has none); absolute pos_embed resampled to 64x64 at load;
# - pyramid: deconv-GN-GELU-deconv / deconv / identity / max-pool -> strides 4/8/16/32, deconvs LeCun-normal
#   with zero bias (MIMDet's `init_adaptor`, as timm 0.4.12 ran it), then FPN (256 ch, SyncBN) and Mask R-CNN
#   with a 2-conv RPN and 4conv1fc box / 4-conv mask heads, batch-normed;
# - 1024x1024 large-scale jitter (0.1-2.0) + flip; AdamW lr 8e-5, betas (0.9, 0.999), wd 0.1, none on norms,
#   pos_embed and relative-position tables, biases decayed (MIMDet: detectron2's weight_decay_norm=0 plus
#   overrides for pos_embed and relative_position_bias_table); drop path 0.1; no layer decay; global batch
#   64; 184,375 iterations (= 100 epochs of COCO train2017) with 0.25 epoch of linear warmup from 1e-3, cosine.
# Head and FPN norm: BN here, which becomes torch's SyncBatchNorm under DDP with CUDA. MIMDet's heads use
# detectron2's NaiveSyncBN(stats_mode="N") (its FPN torch's SyncBN): torch's SyncBN gathers each process's
# mean / invstd with its sample count, drops processes with no samples and weights the rest by count, i.e.
# the statistics of stats mode "N" (torch/nn/modules/_functions.py, SyncBatchNorm.forward). Left over: the
# running variance is torch's unbiased estimate (NaiveSyncBN keeps the biased one), and on one process, or
# under gloo on CPUs, the statistics are per process (with accumulation the run warns, naming the BN batch).
# Deliberate differences: one relative-position table per block (MIMDet shares one between the window blocks
# and one between the global ones; all start at zero); mixed precision is bf16 where the device has it
# (MIMDet used fp16 AMP). The paper searched lr, wd, drop path and epochs per entry (A.3), not layer decay.
arch = "vit_base_patch16"
protocol = "benchmarking"        # or "vitdet" (simple pyramid from the last block, anchors.md 2.1); --protocol
model = dict(
    vit=dict(),                  # architecture overrides (e.g. embed_dim/depth/num_heads for tiny tests)
    out_indices=None,            # None: the four group-closing blocks (quarter_indices: 2, 5, 8, 11 for B)
    window_size=16,              # windowed attention in the other blocks (ViTDet uses 14)
    rel_pos_bias=True,           # zero-initialised, per block
    drop_path_rate=0.1,
    pretrained=None,             # backbone checkpoint: ours (.safetensors) or official MAE (.pth); --pretrained
    pyramid_norm="GN",           # the x4 branch of the pyramid (MIMDet: GroupNorm)
    adapter_init="lecun",        # the pyramid's deconvs: "lecun" (MIMDet) or "torch" (torch's default)
    pretrain_img_size=224,       # protocol "vitdet" only: pos_embed stays at this grid, resampled every forward
    head_norm="BN",              # FPN, box and mask heads (MIMDet: SyncBN; BN becomes SyncBN under DDP)
    neck_channels=256,           # FPN width = RoI feature width
    roi_fc_channels=1024,        # the box head's fully connected layer
    rpn_proposals=1000,          # proposals per image after the RPN's NMS, in training and test
    rcnn_rois_per_image=512,     # RoIs sampled per image for the box head (25% positive at most)
)
data = dict(
    root="",                     # the COCO folder: annotations/instances_<split>.json + <split>/; --data
    train_split="train2017",
    val_split="val2017",
    num_classes=80,              # must equal the annotation file's category count (checked)
    image_size=1024,             # LSJ target and crop; test: longer side resized to it; padded to it always
    scale_range=(0.1, 2.0),      # large-scale jitter
    batch_size=2,                # per process; 32 GPUs x 2 = the global batch
    num_workers=4,
    verify=True,                 # checks always run (every annotation, every image file's presence: seconds
                                 # for COCO); "deep" also decodes every image
    skip_bad=False,              # drop bad annotations / missing images instead of stopping; --skip-bad
)
optim = dict(lr=8e-5, betas=(0.9, 0.999), weight_decay=0.1, layer_decay=1.0,
             no_weight_decay=("norm", "pos_embed", "rel_pos"),  # exempt kinds (detection/optim.py): MIMDet's
             global_batch=64,    # fewer processes accumulate gradients to reach it
             precision="auto", clip_grad=None)
schedule = dict(iters=184375, warmup_iters=462, warmup_ratio=1e-3, policy="cosine",
                milestones=(0.889, 0.963),  # only for policy="step": fractions of iters (ViTDet's 163889, 177546)
                val_interval=0, checkpoint_interval=5000, log_interval=50)
test = dict(max_per_img=100,     # detections per image: the model's cap and the evaluator's maxDets (COCO: 100)
            score_thr=0.05, evaluator="fast")  # fast: faster-coco-eval; reference: pycocotools (same stats)
expected = dict(box_AP=50.3, mask_AP=44.9, source="MAE paper Table 4 (ViT-B, Mask R-CNN, benchmarking design); "
                "MIMDet reproduction 50.4 / 44.9; facebookresearch/mae#43")
seed = 0
# Held-out recipe selection (detection/sweep.py): e.g. sweep.grid="{'optim.lr': [4e-5, 8e-5]}" trains each point on
# the training images minus a seeded held-out part (`holdout` of them), scores its box AP there, refits the best on
# the whole training split and evaluates it once on val. None: no sweep.
sweep = dict(grid=None, holdout=0.2, seed=0)
