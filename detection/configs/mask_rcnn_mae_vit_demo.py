# The paper's COCO protocol scaled down to the embedded demo world (`maebench demo-data`: 128 px scenes, 6 shape
# categories with non-contiguous ids) so it runs on a laptop CPU in minutes. Same pipeline (LSJ 0.1-2.0 at
# 128 px), benchmarking pyramid, FPN, Mask R-CNN heads, AdamW and evaluation as the paper configs, on the
# 6-block 128-d ViT that `maebench pretrain` (mae_demo.py) produces: 6 blocks do not split into four equal
# groups, so the pyramid reads blocks 1, 2, 3, 5 (as the demo segmentation config); window 4 on the 8x8 grid.
# Narrower neck and heads (64 channels, 256-d box fc), 64 sampled RoIs per image in training and 200 proposals
# per image (the box head's four convs on 512 / 1000 RoIs per image cost more than everything else together at
# this scale; the scenes hold a handful of objects) keep a step fast on a CPU.
_base_ = "./mask_rcnn_mae_vit_base_1024_100ep.py"
arch = "vit_mini_patch16"
model = dict(out_indices=[1, 2, 3, 5], window_size=4, neck_channels=64, roi_fc_channels=256,
             rpn_proposals=200, rcnn_rois_per_image=64,
             pretrain_img_size=64)  # --protocol vitdet: the demo backbone was pre-trained at 64 px (4x4 grid)
data = dict(num_classes=6, train_split="train2017", val_split="val2017", image_size=128, batch_size=4,
            num_workers=2)
# fp32: at this size bf16 autocast runs no faster on a 2-core CPU with AMX (0.81 vs 0.84 s per step, measured)
optim = dict(lr=2e-4, global_batch=None, precision="fp32")
schedule = dict(iters=300, warmup_iters=30, checkpoint_interval=300, log_interval=20)
expected = None
