# COCO Mask R-CNN, protocol "vitdet", MAE ViT-H: detectron2 mask_rcnn_vitdet_h_75ep.py, README 56.7 / 50.2.
# Global blocks 7, 15, 23, 31; drop path 0.5, layer decay 0.9, 75 epochs (iterations and milestones x 3/4;
# milestones here are fractions, so they follow). Needs a patch-16 conversion of MAE-H (see the benchmarking
# H file). Weight decay on every parameter, as detectron2's H config (`weight_decay_norm=None`, no overrides).
_base_ = "./mask_rcnn_mae_vit_base_1024_100ep.py"
arch = "vit_huge_patch14"
protocol = "vitdet"
model = dict(vit=dict(patch_size=16), window_size=14, drop_path_rate=0.5)
optim = dict(lr=1e-4, layer_decay=0.9, no_weight_decay=())
schedule = dict(iters=138281, warmup_iters=250, policy="step")
expected = dict(box_AP=56.7, mask_AP=50.2, source="detectron2 projects/ViTDet README, Mask R-CNN ViTDet-H (75 ep)")
