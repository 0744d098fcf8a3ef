# ViT-L/16 fine-tuning, official FINETUNE.md (= paper Table 9): blr 1e-3, layer decay 0.75, drop path 0.2,
# 50 epochs, effective batch 1024. Official runs: 85.95/85.87/85.76/85.88 (released 85.952).
_base_ = "./finetune_vit_base.py"
arch = "vit_large_patch16"
model = dict(drop_path_rate=0.2)
optim = dict(blr=1e-3, layer_decay=0.75)
schedule = dict(epochs=50)
