# COCO Mask R-CNN on an MAE pre-trained ViT-B/16, protocol "vitdet" (Li et al. 2022): detectron2's
# projects/ViTDet/configs/COCO/mask_rcnn_vitdet_b_100ep.py, README 51.6 box AP / 45.9 mask AP (1024 input,
# standard NMS; anchors.md 2.1). The last block's map only -> C/4, C/2, C, C channels at strides 4/8/16/32
# (deconv-LN-GELU-deconv / deconv / identity / max-pool), 1x1 + 3x3 convs with LayerNorm per level, p6 by
# max-pool, no top-down path; window 14 with global blocks 2, 5, 8, 11; LN in the 4conv1fc / mask heads.
# Decomposed relative positions per block (`blocks.i.attn.rel_pos_h` / `rel_pos_w`, (2 x size - 1) x head_dim:
# 27 rows in window blocks, 127 in global ones at 1024 px; zero-initialised; added through the query), and
# `pos_embed` kept at the pre-training 14 x 14 grid, resampled bicubically to 64 x 64 on every forward pass.
# AdamW lr 1e-4, wd 0.1, layer decay 0.7, drop path 0.1, global batch 64, 184,375 iterations, 250 warmup
# iterations from 1e-3, x0.1 at iterations 163,889 and 177,546. Weight decay as detectron2's
# `weight_decay_norm=0` + `pos_embed` override: none on torch norm layers (the ViT's LayerNorms) and pos_embed;
# biases, rel_pos_h / rel_pos_w and the channel-first LayerNorms (LN2d) of pyramid, neck and heads decay.
# Deliberate difference: `pos_embed` holds 196 tokens, detectron2's 197 (it keeps the cls slot, unused: its
# get_abs_pos drops it on every forward); the cls slot of an MAE checkpoint is dropped at load instead.
_base_ = "./mask_rcnn_mae_vit_base_1024_100ep.py"
protocol = "vitdet"
model = dict(window_size=14)
optim = dict(lr=1e-4, layer_decay=0.7, no_weight_decay=("norm", "pos_embed"))
schedule = dict(warmup_iters=250, policy="step")
expected = dict(box_AP=51.6, mask_AP=45.9, source="detectron2 projects/ViTDet README, Mask R-CNN ViTDet-B")
