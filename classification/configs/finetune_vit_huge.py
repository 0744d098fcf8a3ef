# ViT-H/14 fine-tuning, official FINETUNE.md: blr 1e-3, layer decay 0.75, drop path 0.3 (the paper's
# Table 9 says 0.2 for H), 50 epochs, effective batch 1024. Released checkpoint: 86.928.
_base_ = "./finetune_vit_base.py"
arch = "vit_huge_patch14"
model = dict(drop_path_rate=0.3)
optim = dict(blr=1e-3, layer_decay=0.75)
schedule = dict(epochs=50)
