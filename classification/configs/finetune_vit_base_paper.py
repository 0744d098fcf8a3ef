# ViT-B/16 fine-tuning with the paper's Table 9 values (blr 1e-3, layer decay 0.75) instead of the
# official repo's 5e-4 / 0.65 (finetune_vit_base.py, the default, which reproduces 83.6).
_base_ = "./finetune_vit_base.py"
optim = dict(blr=1e-3, layer_decay=0.75)
