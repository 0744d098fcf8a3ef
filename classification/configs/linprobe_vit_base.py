# Linear probe, ViT-B/16 (paper Table 10; official main_linprobe.py; anchors.md 1.6): frozen encoder in
# eval mode, cls token after the final norm, BatchNorm1d(affine=False) + Linear (std 0.01), LARS
# (momentum 0.9, trust 0.001, wd 0) at blr 0.1 and effective batch 16384 -> lr 6.4, warmup 10, cosine
# to 0, 90 epochs; RandomResizedCrop + flip only. Reported: 68.0 (paper) / 67.8 (official PyTorch).
protocol = "linprobe"
arch = "vit_base_patch16"
pretrained = ""
partial_blocks = None
model = dict(img_size=224, global_pool="token", drop_path_rate=0.0)
data = dict(format="imagefolder", root="", year=None, version=None, image_dir=None, batch_size=512,
            eval_batch_size=256, num_workers=8, eval_crop_pct=None, fraction=None, shots=None, subset_file=None,
            subset_seed=0)
aug = dict(preset="imagenet", crop_scale=(0.08, 1.0))  # RandomResizedCrop area range
optim = dict(optimizer="LARS", blr=0.1, global_batch=16384, weight_decay=0.0, layer_decay=1.0, momentum=0.9,
             precision="auto", clip_grad=None)
schedule = dict(epochs=90, warmup_epochs=10, min_lr=0.0, checkpoint_interval=1, val_interval=1,
                log_interval=50)
seed = 0
# Held-out recipe selection (classification/sweep.py): e.g. sweep.grid="{'optim.blr': [1e-3, 1e-2]}" trains each
# point on the training split minus a class-balanced held-out part (`holdout` of it, seeded), scores it there,
# refits the best on the whole training split and evaluates it once on val. None: no sweep.
sweep = dict(grid=None, holdout=0.2, seed=0)
