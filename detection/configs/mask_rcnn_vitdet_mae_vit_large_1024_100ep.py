# COCO Mask R-CNN, protocol "vitdet", MAE ViT-L/16: detectron2 mask_rcnn_vitdet_l_100ep.py, README 55.5 / 49.2.
# As the ViT-B file (decomposed relative positions, run-time pos_embed resampling, detectron2's weight-decay rule)
# with global blocks 5, 11, 17, 23 (the group-closing blocks), drop path 0.4, layer decay 0.8.
_base_ = "./mask_rcnn_mae_vit_base_1024_100ep.py"
arch = "vit_large_patch16"
protocol = "vitdet"
model = dict(window_size=14, drop_path_rate=0.4)
optim = dict(lr=1e-4, layer_decay=0.8, no_weight_decay=("norm", "pos_embed"))
schedule = dict(warmup_iters=250, policy="step")
expected = dict(box_AP=55.5, mask_AP=49.2, source="detectron2 projects/ViTDet README, Mask R-CNN ViTDet-L")
